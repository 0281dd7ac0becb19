"""The one exception type the CLI turns into a one-line message and exit code 2."""


class RLMusicError(Exception):
    """A problem the user can fix (bad input, bad config, missing file).

    The message is one line saying what is wrong and what to do; the CLI prints
    it without a traceback (unless ``--debug``) and exits with status 2.
    """
