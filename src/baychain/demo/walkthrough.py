"""The demo's story: the Greater Bay Area scenarios played end to end through the SDK.

Everything goes through `baychain.sdk` against a node's HTTP API, as an application
of each organisation would, so the same code runs on four CometBFT validators and on
the embedded engine:

1. identity — every founder's committee key binds its certificate; the committee admits
   the core enterprise and the logistics firm (their CAs) and grants the scenario roles;
   one member of staff per organisation gets a certificate and binds it;
2. supply-chain finance — issue, accept, split, transfer, finance at the Guangdong bank;
   the Hong Kong bank's second financing of the same piece is refused and alerted;
3. e-invoices — payment, issue, claim, reimbursement; a second employer's duplicate
   claim is refused and alerted; a red reversal; the seller's tax report;
4. traceability — EPCIS events captured in Guangdong, Hong Kong and Macao; trace, recall
   and the consumer's proof-checked verification;
5. data exchange — the Hong Kong bank verifies a Guangdong customer record against the
   Guangdong bank's on-chain keyed hash without the data crossing back; sending the
   record without a filing is refused and alerted;
6. governance — the committee shortens the payment term (and a longer one is refused);
   the regulator's expedited freeze stops an account at once;
7. settlement of the vouchers at maturity, and the regulator's alert log;
8. on CometBFT, the logistics firm's own node joins the running network from the
   members' latest state-sync snapshot instead of replaying the chain.

Each step checks what it shows and raises `DemoFailed` if the chain did not behave.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from rich.console import Console
from rich.table import Table

from baychain.demo.epcis import BOTTLES, JUICE, ColdChain, bottle, gtin
from baychain.demo.gateways import RunningGateway, start_gateway
from baychain.demo.network import BY_SLUG, COMETBFT, FOUNDERS, ORGANISATIONS, Network, Organisation
from baychain.errors import BaychainError, Code
from baychain.network.committee import LOCAL_PASSPHRASE
from baychain.sdk import identity
from baychain.sdk import invoice as invoice_sdk
from baychain.sdk import scf as scf_sdk
from baychain.sdk import trace
from baychain.sdk.client import Client, TransactionFailed
from baychain.sdk.governance import Governance, action
from baychain.sdk.invoice import Invoices
from baychain.sdk.keys import Key, KeyStore
from baychain.sdk.scf import Scf, document_hash, format_money

SELLER_TAX_ID = "91440101MA5DEMO42X"  # the core enterprise's unified social credit code (illustrative)
WALLET = "wallet"  # <dir>/wallet: the staff keys (passphrase LOCAL_PASSPHRASE)
MAX_TERM_DAYS = 180  # what the committee sets: six months, mainland practice


class DemoFailed(BaychainError):
    """The chain did not behave as the walkthrough says it must."""

    def __init__(self, message: str) -> None:
        super().__init__(Code.INTERNAL, f"the demo stopped: {message}")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailed(message)


class Walkthrough:
    """One run of the story against `client`; `outcome` collects what happened."""

    def __init__(self, client: Client, network: Network, console: Console, *, term_seconds: int = 20) -> None:
        self.client = client
        self.network = network
        self.console = console
        self.term_seconds = term_seconds
        self.gov = Governance(client, timeout=30)
        self.scf = Scf(client)
        self.invoices = Invoices(client)
        self.staff: dict[str, Key] = {}  # slug -> a certificate-bound member of staff
        self.wallet = KeyStore(network.directory / WALLET)  # their keys, for exploring with the CLI afterwards
        self.outcome: dict[str, Any] = {"refused": {}, "engine": network.engine}

    # -- helpers -------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.console.print(text)

    def heading(self, text: str) -> None:
        self.console.rule(f"[bold]{text}[/]", align="left")

    def refused(self, label: str, call: Any, expected: Code) -> str:
        """Run a call that must be refused with `expected`; show and record the refusal."""
        try:
            call()
        except BaychainError as exc:
            _expect(exc.code == expected, f"{label}: refused with {exc.code.name}, expected {expected.name}")
            self.say(f"   [red]refused[/] {label}: {exc.code.name} ({int(exc.code)}) — {exc.message}")
            self.outcome["refused"][label] = exc.code.name
            return exc.code.name
        raise DemoFailed(f"{label} was accepted")

    def decide(self, title: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        """The founders propose and vote until the proposal is decided; it must execute."""
        keys = [self.network.committee[o.slug] for o in FOUNDERS]
        summary = self.gov.decide(keys, actions, title)
        _expect(summary["status"] == "executed", f"proposal {title!r} ended {summary['status']}")
        self.say(f"   proposal #{summary['id']} [italic]{title}[/]: [green]executed[/] "
                 f"({summary['yes']} of {len(keys)} committee votes)")
        return summary

    def block_time_ns(self) -> int:
        return int(self.client.block("latest")["time_ns"])

    # -- the story -----------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        start = time.monotonic()
        self.consortium()
        self.identities()
        self.supply_chain_finance()
        self.e_invoices()
        self.traceability()
        self.data_exchange()
        self.governance()
        self.settlement()
        self.alert_log()
        if self.network.engine == COMETBFT:
            self.new_node()
            self.double_signer()
        status = self.client.status()
        self.outcome.update(height=status["height"], app_hash=status["app_hash"], seconds=time.monotonic() - start)
        return self.outcome

    def consortium(self) -> None:
        status = self.client.status()
        self.heading("The consortium")
        self.say(f"chain [bold]{status['chain_id']}[/] on {len(self.network.urls)} node(s), engine "
                 f"[bold]{status['engine']}[/], height {status['height']}")
        table = Table("organisation", "jurisdiction", "role", "part", box=None, padding=(0, 2))
        for o in ORGANISATIONS:
            table.add_row(o.name, o.jurisdiction, o.role, ("validator + committee; " if o.founder else "") + o.what)
        self.console.print(table)
        required = self.client.view("identity", "settings")
        _expect(required["required"], "the demo chain must admit only certificate-bound keys")
        self.say("only keys bound to a certificate of the consortium CA are admitted")

    def identities(self) -> None:
        self.heading("1. Identity: X.509 certificates, certificate-bound accounts, committee governance")
        for o in FOUNDERS:
            key = self.network.committee[o.slug]
            identity.bind(self.client, key, self.network.user_certificate(o.name, "committee", key))
        self.say(f"   the founders' committee keys bound their certificates ({', '.join(o.slug for o in FOUNDERS)})")
        self.refused("an unbound key's transaction", lambda: self.client.call(
            Key.generate(), "scf", "accept", {"voucher": "V00000001"}), Code.ACCOUNT_UNBOUND)
        newcomers = [o for o in ORGANISATIONS if not o.founder]
        actions = []
        for o in newcomers:
            ca = self.network.ca.init_org(o.name, o.jurisdiction, o.role, LOCAL_PASSPHRASE, now=datetime.now(timezone.utc))
            actions.append(action("identity", "register_org", ca=ca.certificate.public_bytes(Encoding.PEM)))
        self.decide("Admit " + " and ".join(o.name for o in newcomers), actions)
        self.decide("Grant the scenario roles", [
            scf_sdk.register_party(BY_SLUG["core"].name, "core"),
            scf_sdk.register_party(BY_SLUG["gd-bank"].name, "bank"),
            scf_sdk.register_party(BY_SLUG["hk-bank"].name, "bank"),
            invoice_sdk.register_party(BY_SLUG["gd-bank"].name, "payment"),
            invoice_sdk.register_party(BY_SLUG["core"].name, "seller", SELLER_TAX_ID),
        ])
        table = Table("organisation", "staff account", "certificate", box=None, padding=(0, 2))
        for o in ORGANISATIONS:
            key = Key.generate()
            bound = identity.bind(self.client, key, self.network.user_certificate(o.name, "staff", key))
            _expect(bound["organisation"] == o.name, f"{o.name}'s staff bound to {bound['organisation']}")
            self.staff[o.slug] = key
            self.wallet.save(f"{o.slug}-staff", key, LOCAL_PASSPHRASE)
            table.add_row(o.name, bound["account"], f"{o.jurisdiction} / {o.role}, serial {bound['serial'][:12]}…")
        self.console.print(table)
        self.outcome["accounts"] = {slug: key.address for slug, key in self.staff.items()}

    def supply_chain_finance(self) -> None:
        self.heading("2. Supply-chain finance: multi-tier receivable vouchers")
        core, logistics, importer = self.staff["core"], self.staff["hk-logistics"], self.staff["mo-importer"]
        gd_bank, hk_bank = self.staff["gd-bank"], self.staff["hk-bank"]
        amount = 1_200_000_00
        start = self.block_time_ns()
        document = document_hash(f"cold-chain services contract PRF-KC-{start}".encode())
        voucher = self.scf.issue(core, supplier=logistics.address, amount=amount, currency="CNY",
                                 maturity=start + self.term_seconds * 10**9, document=document)
        self.say(f"   Pearl River Foods issued voucher {voucher}: {format_money(amount, 'CNY')} owed to Kwai Chung "
                 f"Logistics, against trade document {document.hex()[:16]}…, maturing in {self.term_seconds} s")
        self.scf.accept(logistics, voucher)
        passed = 450_000_00
        kept, piece = self.scf.split(logistics, voucher, [amount - passed, passed])
        self.scf.transfer(logistics, piece, importer.address)
        self.say(f"   Kwai Chung Logistics accepted it, split it into {kept} ({format_money(amount - passed, 'CNY')}) "
                 f"and {piece} ({format_money(passed, 'CNY')}), and paid Macao Pearl Imports with {piece}")
        self.refused(f"spending the split parent {voucher}",
                     lambda: self.scf.transfer(logistics, voucher, importer.address), Code.VOUCHER_CONSUMED)
        bank = BY_SLUG["gd-bank"].name
        self.scf.apply_financing(importer, piece, bank)
        registration = f"ZD-{start % 10**9}-{piece}"
        advance = passed - passed // 50  # a 2% discount
        self.scf.finance(gd_bank, piece, registration_no=registration, advance=advance)
        self.say(f"   Macao Pearl Imports financed {piece} at {bank} "
                 f"(advance {format_money(advance, 'CNY')}, registration {registration})")
        self.refused(f"Hong Kong Harbour Bank financing {piece} again",
                     lambda: self.scf.finance(hk_bank, piece, registration_no=f"HK-{registration}", advance=1),
                     Code.DOUBLE_FINANCING)
        self.say("   [yellow]the regulator was alerted[/] (double_financing)")
        tree = self.scf.tree(voucher)
        table = Table("voucher", "holder", "amount", "status", box=None, padding=(0, 2))
        names = {key.address: BY_SLUG[slug].name for slug, key in self.staff.items()}
        for v in tree:
            table.add_row(v["id"], names.get(v["holder"], v["holder"]), format_money(v["amount"], v["currency"]),
                          v["status"])
        self.console.print(table)
        self.outcome["scf"] = {"voucher": voucher, "pieces": [kept, piece], "registration_no": registration}

    def e_invoices(self) -> None:
        self.heading("3. E-invoices: payment-linked issue, one reimbursement across all employers")
        pay, seller = self.staff["gd-bank"], self.staff["core"]
        buyer, employer, other_employer = Key.generate(), self.staff["hk-logistics"], self.staff["mo-importer"]
        identity.bind(self.client, buyer, self.network.user_certificate(BY_SLUG["hk-logistics"].name, "driver", buyer))
        self.wallet.save("hk-logistics-driver", buyer, LOCAL_PASSPHRASE)
        seller_name = BY_SLUG["core"].name
        stamp = self.block_time_ns()
        invoice_ids = []
        for n, (amount, tax) in enumerate(((3_180_00, 180_00), (10_600_00, 600_00)), 1):
            payment_id, order_id = f"PAY-{stamp}-{n}", f"SO-{stamp}-{n}"
            self.invoices.record_payment(pay, payment_id=payment_id, order_id=order_id, payer=buyer.address,
                                         payee=seller_name, amount=amount, currency="CNY")
            pdf = f"%PDF e-invoice {order_id} {seller_name} {format_money(amount, 'CNY')}".encode()
            inv = self.invoices.issue(seller, payment_id=payment_id, amount=amount, tax=tax, file=pdf)
            self.invoices.claim(buyer, inv)
            invoice_ids.append((inv, pdf, amount, tax))
            self.say(f"   Guangdong Bay Commercial Bank recorded payment {payment_id} of {format_money(amount, 'CNY')}; "
                     f"{seller_name} issued invoice {inv}; the buyer (a Kwai Chung driver) claimed it")
        (inv, pdf, amount, _), (inv2, _, amount2, tax2) = invoice_ids
        self.refused(f"a second invoice for order SO-{stamp}-1", lambda: self.invoices.issue(
            seller, payment_id=f"PAY-{stamp}-1", amount=1_00, tax=0, file=b"again"), Code.ORDER_INVOICED)
        winner = self._reimbursement_race(inv, pdf, {"hk-logistics": employer, "mo-importer": other_employer})
        self.invoices.reimburse(self.staff[winner], inv)
        _expect(self.invoices.invoice(inv)["status"] == "reimbursed", f"invoice {inv} is not reimbursed")
        self.say(f"   {BY_SLUG[winner].name} reimbursed {inv} (the file's hash matched the chain's)")
        self.invoices.reverse(seller, inv2, amount=amount2 // 2, tax=tax2 // 2, reason="half the goods returned")
        self.say(f"   {seller_name} issued a red invoice reversing half of {inv2}")
        self.refused(f"reimbursing the reversed invoice {inv2}",
                     lambda: self.invoices.lock(employer, inv2, file=invoice_ids[1][1]), Code.INVOICE_REVERSED)
        period = self.invoices.invoice(inv)["period"]
        report = self.invoices.tax_report(SELLER_TAX_ID, period)["currencies"]["CNY"]
        _expect(report["net"] == amount + amount2 - amount2 // 2, f"tax report net {report['net']}")
        self.say(f"   tax report {SELLER_TAX_ID} {period}: issued {format_money(report['issued'], 'CNY')}, reversed "
                 f"{format_money(report['reversed'], 'CNY')}, net [bold]{format_money(report['net'], 'CNY')}[/]")
        self.outcome["einvoice"] = {"invoices": [inv, inv2], "tax_report": report}

    def _reimbursement_race(self, inv: str, pdf: bytes, employers: dict[str, Key]) -> str:
        """Two employers take the reimbursement lock at the same moment: exactly one wins,
        whichever the block orders first; the other is refused and alerted. The winner's slug."""
        args = {"invoice": inv, "file_hash": invoice_sdk.file_hash(pdf)}
        pending = {slug: self.client.call(key, "einvoice", "lock", args, wait=False) for slug, key in employers.items()}
        results = {slug: self.client.wait_for_receipt(r.hash, timeout=30) for slug, r in pending.items()}
        winners = [slug for slug, r in results.items() if r.ok]
        _expect(len(winners) == 1, f"{len(winners)} employers hold the lock of {inv}")
        loser = next(slug for slug in results if slug != winners[0])
        lost = results[loser]
        _expect(lost.code == Code.INVOICE_LOCKED, f"the second employer's lock failed with code {lost.code}")
        heights = sorted({r.height for r in results.values()})
        where = f"both in block {heights[0]}" if len(heights) == 1 else f"in blocks {heights[0]} and {heights[-1]}"
        self.say(f"   the driver hands {inv} to two employers, who present it at the same moment ({where}):")
        self.say(f"   [red]refused[/] {BY_SLUG[loser].name}: INVOICE_LOCKED ({int(Code.INVOICE_LOCKED)}) — {lost.log}")
        self.say("   [yellow]the regulator was alerted[/] (duplicate_reimbursement)")
        self.outcome["refused"][f"a second employer locking {inv} at the same moment"] = Code.INVOICE_LOCKED.name
        self.outcome["einvoice_race"] = {"winner": winners[0], "heights": heights}
        return winners[0]

    def traceability(self) -> None:
        self.heading("4. Traceability: farm to table across Guangdong, Hong Kong and Macao (GS1 EPCIS 2.0)")
        chain = ColdChain(self.block_time_ns())
        for slug, doc, label in (("core", chain.guangdong(), "harvest, pressing, bottling, packing, departure (GD)"),
                                 ("hk-logistics", chain.hong_kong(), "arrival at Kwai Chung, cold-chain leg (HK)"),
                                 ("mo-importer", chain.macao(), "receipt, unpacking, first sale (MO)")):
            hashes = trace.capture(self.client, self.staff[slug], doc)
            self.say(f"   {BY_SLUG[slug].name}: {len(hashes)} events — {label}")
        product = gtin(JUICE)
        origin = trace.trace(self.client, bottle(BOTTLES[0]), "backward")["nodes"]
        _expect(any(n["id"].endswith(f"/10/{chain.lychee_lot}") for n in origin),
                "tracing a bottle backward does not reach the lychee harvest")
        names = {chain.juice_lot: "juice lot", chain.lychee_lot: "lychee lot"}
        path = " ← ".join(f"{names.get(last, 'bottle')} {last}" for last in (n["id"].rsplit("/", 1)[-1] for n in origin))
        self.say(f"   traced backward from a bottle sold in Macao: {path} (harvested in Conghua)")
        temps = trace.sensor(self.client, "urn:epc:id:sscc:6901234.0000004242", unit="CEL")
        readings = ", ".join(f"{r['value']} {r['uom']} = {r['converted']} °C" for r in temps["readings"])
        self.say(f"   cold chain of the pallet, converted to °C: {readings}")
        trace.capture(self.client, self.staff["core"], chain.recall())
        recall = trace.recall(self.client, product, chain.juice_lot)
        _expect(recall["recalled"] and recall["items"], "the recalled lot lists no downstream items")
        self.say(f"   Pearl River Foods [red]recalled[/] juice lot {chain.juice_lot}: {len(recall['items'])} downstream "
                 "items, each with its last known location")
        story = self._consumer_check(product, chain.juice_lot)
        _expect(story["recalled"], "the verified story does not show the recall")
        self.outcome["trace"] = {"gtin": product, "lot": chain.juice_lot, "events": len(story["events"]),
                                 "recall_items": len(recall["items"])}

    def _consumer_check(self, product: str, lot: str) -> dict[str, Any]:
        """What a shopper's phone does with the QR code: ask a node in Macao for the lot's story and
        check every entry's proof — against the app hash the validators signed, when there are any."""
        url = self.network.urls.get("mo-importer", self.network.api_url)
        height = self.client.height()
        with Client(url, timeout=30) as phone:
            deadline = time.monotonic() + 30
            while phone.height() < height and time.monotonic() < deadline:
                time.sleep(0.2)
            story = trace.verify_lot(phone, product, lot, light=self.network.light)
        against = ("the app hash signed by more than 2/3 of the validators (light client: no node trusted, "
                   "every other node's header compared)"
                   if self.network.light is not None else "the block's app hash")
        self.say(f"   a shopper in Macao scans the QR code: {len(story['events'])} events from the harvest on, every "
                 f"entry proven against {against} — [green]verified[/], [red]recalled[/]")
        return story

    def data_exchange(self) -> None:
        self.heading("5. Data exchange: verification without disclosure (each bank's data gateway)")
        gd, hk = BY_SLUG["gd-bank"], BY_SLUG["hk-bank"]
        owner = start_gateway(self.network, gd)
        try:
            asker = start_gateway(self.network, hk)
            try:
                self._verify_without_disclosure(owner, asker, hk)
            finally:
                asker.stop()
        finally:
            owner.stop()

    def _verify_without_disclosure(self, owner: RunningGateway, asker: RunningGateway, hk: Organisation) -> None:
        record = {"subject": "440106198203154321", "categories": ["identity", "contact"],
                  "fields": {"name": "Li Wei", "role": "director, Pearl River Foods Group", "phone": "+86 138 0000 4242"}}
        anchored = owner.gateway.put("kyc-li-wei", record, anchor=True)
        self.say(f"   Guangdong Bay Commercial Bank keeps a customer's KYC record in its gateway's encrypted vault "
                 f"(GD); only its keyed hash goes on chain (block {anchored['anchor']['height']})")
        owner.gateway.grant(hk.name, "account-opening", ["identity", "contact"],
                            expiry_ns=self.block_time_ns() + 30 * 86_400 * 10**9)
        answer = asker.gateway.verify_at(owner.peer, record, "account-opening")
        _expect(answer["matched"] is True, f"the presented record did not match: {answer}")
        self.say(f"   Hong Kong Harbour Bank's gateway presents the record the customer gave it, over mutual TLS: "
                 f"[green]matched[/] the anchor of block {answer['anchored_height']}; nothing was sent back")
        altered = {**record, "fields": {**record["fields"], "phone": "+86 138 0000 4243"}}
        answer = asker.gateway.verify_at(owner.peer, altered, "account-opening")
        _expect(answer["matched"] is False, "an altered record matched")
        self.say("   the same record with one digit of the phone number changed: [red]no match[/]")
        self.refused("sending the record to Hong Kong without a standard-contract filing",
                     lambda: owner.gateway.send("kyc-li-wei", asker.peer, "account-opening"), Code.FILING_MISSING)
        self.say("   [yellow]the regulator was alerted[/] (transfer_refused); every attempt is in the dataex audit log")
        log = self.client.view("dataex", "audit_log", {"limit": 50})["entries"]
        self.outcome["dataex"] = [(e["kind"], e["outcome"]) for e in log]

    def governance(self) -> None:
        self.heading("6. Governance: the committee decides, the regulator acts at once")
        self.decide(f"Payment terms of vouchers at most {MAX_TERM_DAYS} days",
                    [scf_sdk.set_max_term_days(MAX_TERM_DAYS)])
        long_term = self.block_time_ns() + (MAX_TERM_DAYS + 30) * 86_400 * 10**9
        self.refused(f"a voucher with a {MAX_TERM_DAYS + 30}-day term", lambda: self.scf.issue(
            self.staff["core"], supplier=self.staff["hk-logistics"].address, amount=1_000_00, currency="CNY",
            maturity=long_term, document=document_hash(b"long-term purchase order")), Code.TERM_EXCEEDED)
        suspect = self.staff["hk-bank"]
        regulator = self.network.committee["regulator"]
        frozen = self.gov.expedite_freeze(regulator, suspect.address, "attempted double financing, under investigation")
        self.say(f"   the regulator froze {suspect.address} (the officer behind the second financing) without a vote, "
                 "lapsing in 72 hours unless the committee confirms it")
        self.refused("a transaction of the frozen account", lambda: self.scf.apply_financing(
            suspect, "V00000001", BY_SLUG["hk-bank"].name), Code.ACCOUNT_FROZEN)
        self.decide("Confirm the regulator's freeze", [
            action("policy", "freeze", account=suspect.address, reason="confirmed by the committee: double financing")])
        confirmed = self.client.view("policy", "frozen", {"account": suspect.address})
        _expect(confirmed is not None and confirmed["until_ns"] == 0, f"the committee's freeze is {confirmed}")
        self.say("   the freeze now lasts until the committee lifts it")
        self.outcome["freeze"] = {"expedited": frozen, "confirmed": confirmed}

    def settlement(self) -> None:
        self.heading("7. Settlement at maturity")
        voucher = self.outcome["scf"]["voucher"]
        deadline = time.monotonic() + self.term_seconds + 60
        waiting = False
        while True:  # judged at block time: wait until the chain passes the maturity
            try:
                payouts = self.scf.settle(self.staff["core"], voucher, payment_ref=f"CNAPS-{voucher}")
                break
            except TransactionFailed as exc:
                if exc.code != Code.NOT_MATURED or time.monotonic() > deadline:
                    raise
                if not waiting:
                    self.say("   (waiting for the maturity date on the chain's clock…)")
                    waiting = True
                time.sleep(1)
        names = {key.address: BY_SLUG[slug].name for slug, key in self.staff.items()}
        for p in payouts:
            self.say(f"   {p['voucher']} pays {format_money(p['amount'], 'CNY')} to {names.get(p['holder'], p['holder'])}")
        total = sum(p["amount"] for p in payouts)
        _expect(total == 1_200_000_00, f"payouts total {total}")
        self.say(f"   payouts total the face value {format_money(total, 'CNY')}: [green]settled[/]")
        self.outcome["scf"]["payouts"] = payouts

    def alert_log(self) -> None:
        self.heading("8. The regulator's alert log")
        alerts = self.gov.alerts(limit=100)["alerts"]
        table = Table("#", "kind", "contract", "height", "what", box=None, padding=(0, 2))
        for a in alerts:
            table.add_row(str(a["seq"]), a["kind"], a["contract"], str(a["height"]), _alert_summary(a["attributes"]))
        self.console.print(table)
        kinds = sorted({a["kind"] for a in alerts})
        _expect({"double_financing", "duplicate_reimbursement"} <= set(kinds), f"alert kinds {kinds}")
        self.outcome["alerts"] = {kind: sum(1 for a in alerts if a["kind"] == kind) for kind in kinds}


    def new_node(self) -> None:
        from baychain.network.create import join_network
        from baychain.network.members import Member

        o = BY_SLUG["hk-logistics"]
        self.heading(f"9. A new node: {o.name} joins from a state-sync snapshot")
        joined = join_network(self.network.directory, Member(o.slug, o.name, o.jurisdiction, o.role))
        self.say(f"   the committee registered its node at height {joined.registered_height}; the light client "
                 f"verified the trust anchor (header {joined.trust_height}) from the genesis")
        target = self.client.status()["height"]
        deadline = time.monotonic() + 120
        with Client(joined.entry.api_url, timeout=20) as node:
            while True:  # CometBFT finds the members' snapshots, fetches and checks the chunks, then catches up
                try:
                    status = node.status()
                    if status["height"] >= target and status["earliest_height"] > 1:
                        break
                except BaychainError:
                    pass
                if time.monotonic() > deadline:
                    raise DemoFailed(f"{o.name}'s node did not catch up to height {target} within 120 s")
                time.sleep(0.5)
            here, there = node.block(target)["app_hash"], self.client.block(target)["app_hash"]
            _expect(here == there, f"the new node's app hash at {target} is {here}, the validators' {there}")
            voucher = self.outcome["scf"]["voucher"]
            _expect(Scf(node).tree(voucher) == self.scf.tree(voucher), "the new node's voucher tree differs")
        restored = status["earliest_height"] - 1
        self.say(f"   it restored the state of height {restored} (every chunk checked, the whole state against the "
                 f"app hash the validators signed) and executed no block before it")
        self.say(f"   at height {target} its app hash is the validators' ({here[:16]}…); the vouchers settled before "
                 "it joined read the same there")
        self.outcome["joined"] = {"node": o.slug, "restored": restored, "registered": joined.registered_height}
        self.network.urls[o.slug] = joined.entry.api_url

    def double_signer(self) -> None:
        from baychain.network.drill import double_sign

        o = BY_SLUG["mo-importer"]
        self.heading(f"10. A validator signs twice: {o.name}'s key, copied onto a second machine")
        alert = double_sign(self.network.directory, o.slug)
        a = alert["attributes"]
        _expect(a["name"] == o.slug and a["misbehavior"] == "duplicate_vote", f"the alert names {a}")
        self.say(f"   its key signed two different votes at height {a['evidence_height']}; CometBFT verified the "
                 f"proof and committed it in block {alert['height']}")
        self.say(f"   the regulator's alert log, #{alert['seq']}: {alert['kind']} — {a['organisation']} "
                 f"({a['jurisdiction']}), validator {a['validator'][:12]}…, power {a['power']} of {a['total_power']}")
        self.say("   the validator still votes: removing it is the committee's decision (network.set_power to 0)")
        self.outcome["misbehavior"] = {"node": a["name"], "kind": a["misbehavior"], "height": alert["height"]}


def _alert_summary(attrs: dict[str, Any]) -> str:
    """One line about an alert: what it concerns and who tried."""
    if "recipient" in attrs:
        return f"{attrs.get('source', '?')} → {attrs['recipient']}: {attrs.get('code', '')}"
    subject = next((f"{k} {attrs[k]}" for k in ("voucher", "invoice") if k in attrs), "")
    by = next((attrs[k] for k in ("bank", "employer") if k in attrs), "")
    return f"{subject} by {by}" if by else subject
