"""RoomChat desktop app: a PySide6 window on a qasync loop that joins or hosts rooms.

PySide6-Essentials 6.12.0 loses a reference to ``True``/``None`` on every signal emit and
void call and crashes after a few thousand; pyproject.toml keeps it below 6.12, and
tests/test_desktop_client.py::test_many_signal_emits_leave_true_alive guards it.
"""
