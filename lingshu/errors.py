"""The error a user's configuration causes: shown as one line naming the key, never a traceback."""


class ConfigError(Exception):
    pass
