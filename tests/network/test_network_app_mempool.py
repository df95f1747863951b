"""Four real validators that keep the mempool themselves (`net init --mempool app`):
CometBFT runs its `nop` mempool, each node admits what its clients submit, relays it to
the others' APIs and proposes from its own mempool; a conflict is settled by the block
and the recheck after it; a validator down only loses the relays sent to it."""

from __future__ import annotations

import time

import httpx
import pytest

from baychain.network import cometbft
from netsupport import running_network
from support import Signer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CHAIN_ID = "baychain-app-mempool-test"


def committed_everywhere(net, names, hashes) -> bool:
    return all(net.clients[n].get(f"/v1/txs/{h}/receipt").status_code == 200 for n in names for h in hashes)


def test_nodes_keeping_their_own_mempool_admit_relay_propose_and_agree(tmp_path) -> None:
    with running_network(tmp_path / "net", CHAIN_ID, mempool="app") as net:
        gd, hk, mo, reg = net.names
        assert cometbft.read_config(net.home(gd).cometbft)["mempool"]["type"] == "nop"
        assert net.home(gd).load().relay_peers == [net.manifest.node(n).api_url for n in (hk, mo, reg)]

        # CometBFT's own broadcast is refused: transactions go to a node's API.
        signer = Signer(CHAIN_ID)
        probe = signer.tx("notary", "notarize", digest=bytes(32)).raw
        answer = httpx.get(f"{net.manifest.node(gd).rpc_url}/broadcast_tx_sync", params={"tx": "0x" + probe.hex()}).json()
        assert "nop" in str(answer.get("error")), answer
        signer.nonce = 0

        # Submitted to one node only, a round per block: the others hold them too (relayed),
        # so the blocks that take them are proposed by nodes no client reached.
        hashes: list[str] = []
        for round_ in range(6):
            raws = [Signer(CHAIN_ID).tx("notary", "notarize", digest=bytes([round_, i]) * 16).raw for i in range(200)]
            results = net.post(gd, "/v1/txs/batch", {"txs": [r.hex() for r in raws]})["results"]
            assert [r["code"] for r in results] == [0] * len(results), results[:3]
            hashes += [r["hash"] for r in results]
            net.wait_for(lambda: committed_everywhere(net, (gd,), [results[-1]["hash"]]), "the round to commit", 30)
        net.wait_for(lambda: committed_everywhere(net, net.names, hashes[::50] + hashes[-1:]),
                     "the transactions on every node", 60)
        heights = {net.api(gd, f"/v1/txs/{h}/receipt")["height"] for h in hashes}
        proposers = {net.api(gd, f"/v1/blocks/{h}")["proposer"] for h in heights}
        gd_proposer = net.manifest.node(gd).validator.address.lower()
        assert proposers - {gd_proposer}, proposers  # blocks proposed by nodes the clients never reached
        tip = min(net.heights().values())
        assert len({net.api(n, f"/v1/blocks/{tip}")["app_hash"] for n in net.names}) == 1

        # Two transactions of one sender with one nonce, given to two nodes at once: the
        # block takes one, the recheck after it drops the other from every mempool.
        twin = Signer(CHAIN_ID)
        first = twin.tx("notary", "notarize", digest=bytes([7]) * 32).raw
        twin.nonce = 0
        second = twin.tx("notary", "notarize", digest=bytes([8]) * 32).raw
        a = net.post(gd, "/v1/txs/batch", {"txs": [first.hex()]})["results"][0]
        b = net.post(mo, "/v1/txs/batch", {"txs": [second.hex()]})["results"][0]
        assert a["code"] == 0
        net.wait_for(lambda: any(net.clients[hk].get(f"/v1/txs/{h}/receipt").status_code == 200
                                 for h in (a["hash"], b["hash"])), "one of the twins to commit", 30)
        net.wait_for(lambda: all(net.api(n, "/v1/status")["mempool_txs"] == 0 for n in net.names),
                     "every mempool to settle", 30)
        time.sleep(2)  # a few more blocks: the other twin never commits
        assert sum(net.clients[hk].get(f"/v1/txs/{h}/receipt").status_code == 200 for h in (a["hash"], b["hash"])) == 1

        # A validator down: relays to it fail, the others go on; back up, it catches up.
        net.kill(reg)
        late = [Signer(CHAIN_ID).tx("notary", "notarize", digest=bytes([9, i]) * 16).raw for i in range(50)]
        results = net.post(mo, "/v1/txs/batch", {"txs": [r.hex() for r in late]})["results"]
        assert [r["code"] for r in results] == [0] * len(late)
        net.wait_for(lambda: committed_everywhere(net, (gd, hk, mo), [r["hash"] for r in results]),
                     "the transactions without the regulator", 60)
        net.start(reg)
        net.wait_healthy(reg, timeout=60)
        net.wait_for(lambda: committed_everywhere(net, (reg,), [r["hash"] for r in results]), "the regulator to catch up", 60)
        assert "relaying" in net.home(mo).log_file.read_text(errors="replace")  # the failed relays were reported
        relay = net.api(mo, "/v1/status")["relay"]
        assert relay[net.manifest.node(reg).api_url]["dropped"] >= len(late) and relay[net.manifest.node(gd).api_url]["sent"] > 0
