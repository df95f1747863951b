"""The application state machine and its ABCI-shaped interface."""
