"""RoomChat desktop app: a PySide6 window on a qasync loop that joins or hosts rooms."""
