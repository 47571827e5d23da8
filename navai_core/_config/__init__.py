"""Configuration: the options minting and speech need, and the loader reading them from env.

``_env`` is the loader (each setting declares its variable where it is declared), and
``_options`` / ``_speech_options`` the option classes. The public names are re-exported
by :mod:`navai_core`; import them from there.
"""
