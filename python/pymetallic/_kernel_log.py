"""Delivery of kernel log messages (os_log / printf in MSL, issue 12) to Python's logging.

Command buffers without their own handler (``add_log_handler``) send each message here
after they complete: logger ``pymetallic.kernel``, with the kernel's name and the thread's
position in the text and as ``extra`` fields (``kernel``, ``thread_position``, ``threadgroup_position``,
``subsystem``, ``category``)."""

import logging

logger = logging.getLogger("pymetallic.kernel")

# os_log_type_t -> logging level. OS_LOG_TYPE_DEFAULT (and printf) log at INFO.
_LEVELS = {0: logging.INFO, 1: logging.INFO, 2: logging.DEBUG, 16: logging.ERROR, 17: logging.CRITICAL}


def deliver(message):
    level = _LEVELS.get(message.level, logging.INFO)
    if not logger.isEnabledFor(level):
        return
    x, y, z = message.thread
    where = message.kernel + " thread (%d, %d, %d)" % (x, y, z) if message.kernel else "kernel"
    logger.log(
        level,
        "%s: %s",
        where,
        message.message,
        extra={
            "kernel": message.kernel,
            "thread_position": tuple(message.thread),
            "threadgroup_position": tuple(message.threadgroup),
            "subsystem": message.subsystem,
            "category": message.category,
        },
    )
