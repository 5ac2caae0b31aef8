"""Widgets of the desktop window; they render and report, the window decides."""
