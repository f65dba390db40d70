"""Clocks across hosts (issue 21.3): the hub estimates each sensor host's clock offset and
drift from NTP-style request/response exchanges over the bus and maps sample times onto
its own clock."""

from runtime.clock._estimator import ClockEstimate, ClockEstimator
from runtime.clock._exchange import ClockExchange, ClockExchangeError
from runtime.clock._filter import LowestDelayFilter
from runtime.clock._fit import OffsetLine, fit_offset_line
from runtime.clock._map import ClockMap, ClockMaps, UnknownSensorClockError
from runtime.clock._requester import ClockRequesterStage
from runtime.clock._responder import ClockResponderStage
from runtime.clock._topics import REQUEST_TOPIC, RESPONSE_TOPIC, STATUS_TOPIC

__all__ = [
    "REQUEST_TOPIC",
    "RESPONSE_TOPIC",
    "STATUS_TOPIC",
    "ClockEstimate",
    "ClockEstimator",
    "ClockExchange",
    "ClockExchangeError",
    "ClockMap",
    "ClockMaps",
    "ClockRequesterStage",
    "ClockResponderStage",
    "LowestDelayFilter",
    "OffsetLine",
    "UnknownSensorClockError",
    "fit_offset_line",
]
