"""The clock exchange's topics."""

#: The hub's requests (ClockRequest), published by the requester on the hub.
REQUEST_TOPIC = "clock.request"
#: The sensors' answers (ClockResponse), published by each sensor host's responder.
RESPONSE_TOPIC = "clock.response"
#: The hub's estimates of every sensor's clock (ClockStatus).
STATUS_TOPIC = "status.clock"
