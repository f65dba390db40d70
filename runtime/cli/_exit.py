"""Named exit codes of the ``kintsugi`` command."""

OK = 0
#: A check found something (fractures, failed channels): the command worked, the answer is "no".
FOUND = 1
#: Bad arguments or input files.
USAGE_ERROR = 2
#: The daemon or a device could not start (config, bus, board).
STARTUP_FAILURE = 3
#: Stopped by a signal.
INTERRUPTED = 130
