"""The one pinned CometBFT release baychain runs on.

Everything that depends on the engine's version reads it from here: the installer
(scripts/install-cometbft.sh), the protobuf generator (baychain.abci.protogen) and the
tests. The v0.38 line speaks ABCI 2.0 with the `tendermint.abci` protobuf package;
v1.x renamed the packages, so the pin must never drift to `@latest`.
"""

COMETBFT_VERSION = "v0.38.26"
COMETBFT_MODULE = "github.com/cometbft/cometbft"
GOGOPROTO_MODULE = "github.com/cosmos/gogoproto"
