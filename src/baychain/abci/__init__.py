"""The CometBFT engine's side of ABCI 2.0: baychain's own asyncio socket server.

- `version`: the one pinned CometBFT release (COMETBFT_VERSION);
- `protogen`: compiles that release's .proto files into `proto_gen/` (gitignored);
- `codec`: uvarint length-prefixed framing of the socket protocol;
- `convert`: protobuf messages <-> the application's plain types (baychain.app.types);
- `server`: the socket server (`serve`, `AbciServer`, `run_abci_server`).

Import `baychain.abci.server` explicitly; this package itself stays import-light so that
`version` and `protogen` work before any protobuf module exists.
"""
