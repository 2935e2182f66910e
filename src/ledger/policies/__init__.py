"""Versioned rule data, each with an id, the document that set it and an effective date.

The rule in force *at the time of the fact* applies, and events record the id of the
policy they applied. Pure: standard library only.
"""
