"""A module that fails to import: the rest must still load."""

raise RuntimeError("this module cannot be imported")
