"""Networks of baychain nodes driven by CometBFT.

A consortium network is a set of validator nodes, one per member organisation, that
agree on blocks with CometBFT's BFT consensus. Each node is one Python process (the
application, the ABCI server and the HTTP API) supervising one `cometbft node` child.

    members.py    who takes part: organisation, jurisdiction (GD, HK, MO), role
    manifest.py   the network manifest (network.json): members, node ids, ports, homes
    home.py       one node's home directory: node.json, cometbft/, data/, log, pid
    card.py       node cards (public identity a member shares) and the genesis built from them
    cometbft.py   CometBFT homes: `cometbft init`, config.toml settings, shared genesis
    ports.py      free loopback ports for local networks
    create.py     `baychain net init`: every node home of a local network at once
    rpc.py        a small CometBFT RPC client (status, peers, broadcast)
    runtime.py    one node process: application + ABCI server + API + cometbft child
    processes.py  `baychain net up/down/status`: detached node processes, pid and log files
    light.py      light-client checks: an app hash is trusted once 2/3+ of validators signed it,
                  following validator-set changes

Membership itself (who may connect, who votes) is on chain: the built-in contract
`network` (baychain.contracts.system.network) holds the node registry and the validator
set, answers CometBFT's peer-filter queries and returns validator updates.
"""
