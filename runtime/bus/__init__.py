"""The message bus: one broker, publishers and subscribers, a versioned envelope."""

from runtime.bus._broker import Broker, BrokerStats
from runtime.bus._curve import DEFAULT_CLIENT, CurveKeys, make_keys
from runtime.bus._endpoints import (
    DEFAULT_PUBLISH_ENDPOINT,
    DEFAULT_SUBSCRIBE_ENDPOINT,
    check_bind_allowed,
    check_connect_allowed,
    hub_subscribe_endpoint,
    is_loopback,
)
from runtime.bus._envelope import VERSION, Message, decode, encode
from runtime.bus._sockets import BusPublisher, BusSubscriber, ReceiveStats
from runtime.bus._uplink import PersonPublisher, UplinkPublisher

__all__ = [
    "DEFAULT_CLIENT",
    "DEFAULT_PUBLISH_ENDPOINT",
    "DEFAULT_SUBSCRIBE_ENDPOINT",
    "VERSION",
    "Broker",
    "BrokerStats",
    "BusPublisher",
    "BusSubscriber",
    "CurveKeys",
    "Message",
    "PersonPublisher",
    "ReceiveStats",
    "UplinkPublisher",
    "check_bind_allowed",
    "check_connect_allowed",
    "decode",
    "encode",
    "hub_subscribe_endpoint",
    "is_loopback",
    "make_keys",
]
