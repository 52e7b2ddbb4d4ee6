"""Helpers every workshop notebook needs and no notebook should teach."""
