"""Recurring groups, their meetings and each attendee's line."""
