"""Who takes part in a run: gemeenten, aanbieders, clients, product catalogues, and the
number sequences (BSN, ToewijzingNummer, BerichtIdentificatie) they draw from.

Everything is a pure function of the seed and of the order of the calls, so one seed always
gives the same world. Values the message factory already knows how to make valid (names,
addresses, birth dates, AGB codes) come from `hub.factory`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass

from hub.factory import MessageFactory
from hub.factory.codes import GEMEENTE_CODES
from hub.generator.config import GeneratorConfig
from hub.messagetypes import MessageType
from hub.model import Client, Omvang, Product, VerkorteNaam

#: What a product of each WMO020 category is typically assigned in: (Eenheid WJ756,
#: Frequentie WMO757, lowest and highest Volume). Frequentie 2 (per week) needs an Einddatum
#: (CD076); Eenheid 14, 16 and 84 go with Frequentie 2, 4 or 6 (CS338).
# fmt: off
OMVANG_PATRONEN: dict[str, tuple[tuple[str, str, int, int], ...]] = {
    "01": (("04", "2", 2, 6), ("01", "2", 90, 360), ("04", "4", 8, 24)),   # huishouden
    "02": (("04", "2", 1, 10), ("01", "2", 60, 600), ("04", "4", 4, 40)),  # begeleiding
    "03": (("04", "2", 1, 14), ("01", "1", 15, 120)),                      # verzorging
    "04": (("14", "4", 1, 8), ("14", "6", 5, 60)),                         # kortdurend verblijf
    "05": (("82", "6", 1, 3), ("82", "4", 1, 2)),                          # woondiensten
    "06": (("04", "2", 1, 6), ("04", "4", 2, 20)),                         # overige individueel
    "07": (("16", "2", 1, 8), ("16", "4", 4, 30)),                         # dagbesteding
    "08": (("84", "2", 2, 10), ("84", "4", 8, 40)),                        # vervoerdiensten
    "09": (("16", "2", 1, 4),),                                            # groepsgericht
    "15": (("14", "4", 28, 31), ("14", "2", 7, 7)),                        # beschermd wonen
    "16": (("14", "4", 1, 31),),                                           # opvang
    "17": (("14", "6", 1, 14),),                                           # spoedopvang
    "18": (("04", "2", 1, 8), ("04", "4", 4, 30)),                         # overig BW/opvang
}
# fmt: on
#: Category 10 (overige maatwerkarrangementen) is assigned as a Budget (cents) with only the
#: category as Product: no Code, so no Omvang (CD041, CD080), and an Einddatum (CD075).
BUDGET_CATEGORIE = "10"
CATEGORIEEN = (*OMVANG_PATRONEN, BUDGET_CATEGORIE)
_CODE_LETTERS = "ABCDEFGHJK"


@dataclass(frozen=True, slots=True)
class Identity:
    """A client as both message families show it: the 301 Client (without product lines)
    and the short form of 305/307."""

    client: Client
    naam: VerkorteNaam

    @property
    def bsn(self) -> str:
        return self.client.bsn


class BsnAllocator:
    """Distinct BSNs passing the 11-proef (CS002), none reused within a run.

    Heads are the 8-digit numbers 99000000-99999999 in a seeded order; a head whose check
    digit would be 10 is skipped, which leaves about 909,000 numbers. Numbers starting with 99
    are kept for testing here; they are not meant to be anyone's BSN.
    """

    _SPAN = 1_000_000

    def __init__(self, rng: random.Random) -> None:
        step = rng.randrange(100_001, self._SPAN, 2)
        while step % 5 == 0:
            step += 2
        self._step = step  # odd and not a multiple of 5: a permutation of 0..SPAN-1
        self._offset = rng.randrange(self._SPAN)
        self._next = 0

    def next(self) -> str:
        while self._next < self._SPAN:
            index = (self._offset + self._step * self._next) % self._SPAN
            self._next += 1
            head = f"99{index:06d}"
            check = sum(int(d) * w for d, w in zip(head, range(9, 1, -1), strict=True)) % 11
            if check < 10:
                return head + str(check)
        raise RuntimeError("the BSN block is exhausted")


class World:
    """The fixed participants of a run and the counters they draw numbers from."""

    def __init__(self, config: GeneratorConfig) -> None:
        rng = random.Random(f"iwmo-hub generate world {config.seed}")
        self.config = config
        self.seed = config.seed
        self.gemeenten: tuple[str, ...] = tuple(
            sorted(rng.sample(GEMEENTE_CODES, config.gemeenten))
        )
        # Bigger municipalities send more: weight 1/rank over a seeded order.
        order = list(self.gemeenten)
        rng.shuffle(order)
        self.gemeente_weights = tuple(1.0 / (1 + order.index(g)) ** 0.7 for g in self.gemeenten)
        values = MessageFactory(rng.randrange(2**32))
        agb: list[str] = []
        while len(agb) < config.aanbieders:
            code = values.agb_code()
            if code not in agb:
                agb.append(code)
        self.aanbieders: tuple[str, ...] = tuple(agb)
        # A few large providers and a long tail (Zipf-like).
        self.aanbieder_weights = tuple(1.0 / (1 + i) ** 0.8 for i in range(len(agb)))
        self.catalogue = {g: _catalogue(rng) for g in self.gemeenten}
        self.bsns = BsnAllocator(rng)
        # ToewijzingNummers: per gemeente a counter from a seeded 8-digit base, so that a
        # number never looks like a (nine-digit) BSN in logs.
        self._twn = {g: rng.randrange(10_000_000, 60_000_000) for g in self.gemeenten}
        self._ids: dict[tuple[str, MessageType], int] = {}
        self._id_base = rng.randrange(10**9, 10**10)

    def gemeente(self, rng: random.Random) -> str:
        return rng.choices(self.gemeenten, self.gemeente_weights)[0]

    def aanbieder(self, rng: random.Random, *, besides: str | None = None) -> str:
        while True:
            choice = rng.choices(self.aanbieders, self.aanbieder_weights)[0]
            if choice != besides or len(self.aanbieders) == 1:
                return choice

    def toewijzing_nummer(self, gemeente: str) -> int:
        """A ToewijzingNummer the gemeente never used before in this run."""
        self._twn[gemeente] += 1
        return self._twn[gemeente]

    def identificatie(self, sender: str, message_type: MessageType) -> str:
        """A BerichtIdentificatie unique per sender and message type (TR056), 12 characters."""
        key = (sender, message_type)
        n = self._ids.get(key, 0) + 1
        self._ids[key] = n
        return f"{message_type.bericht_code[-1]}{self._id_base + n:011d}"

    def identity(self, client_index: int, first_day: dt.date) -> Identity:
        """A client with a unique BSN and a name, birth date and address drawn for it."""
        values = MessageFactory(self.seed * 7_919 + client_index, varied=True)
        client = values.client(first_day, ())
        client = dataclasses.replace(client, bsn=self.bsns.next())
        naam = client.naam
        return Identity(
            client=client,
            naam=VerkorteNaam(
                geslachtsnaam=naam.geslachtsnaam,
                voornamen=naam.voornamen,
                voorletters=naam.voorletters,
            ),
        )


def _catalogue(rng: random.Random) -> dict[str, tuple[Product, ...]]:
    """A gemeente's product codes: two to four per category, like '02A07' (5 characters)."""
    catalogue: dict[str, tuple[Product, ...]] = {}
    for categorie in CATEGORIEEN:
        if categorie == BUDGET_CATEGORIE:
            catalogue[categorie] = (Product(categorie=categorie),)
            continue
        codes: set[str] = set()
        while len(codes) < rng.randint(2, 4):
            codes.add(f"{categorie}{rng.choice(_CODE_LETTERS)}{rng.randint(1, 99):02d}")
        catalogue[categorie] = tuple(Product(categorie=categorie, code=c) for c in sorted(codes))
    return catalogue


def omvang_for(
    rng: random.Random, categorie: str, *, open_ended: bool
) -> tuple[Omvang | None, int | None]:
    """Omvang or Budget for a line of this category; open-ended lines avoid Frequentie 2
    (CD076) and 6 (a total needs a period)."""
    if categorie == BUDGET_CATEGORIE:
        return None, rng.randint(50, 1_500) * 1_000
    patterns = OMVANG_PATRONEN[categorie]
    if open_ended:
        patterns = tuple(p for p in patterns if p[1] not in ("2", "6")) or patterns
    eenheid, frequentie, low, high = rng.choice(patterns)
    return Omvang(volume=rng.randint(low, high), eenheid=eenheid, frequentie=frequentie), None


def can_be_open_ended(categorie: str) -> bool:
    """Whether a line of this category can go without an Einddatum (CD075, CD076)."""
    if categorie == BUDGET_CATEGORIE:
        return False
    return any(p[1] not in ("2", "6") for p in OMVANG_PATRONEN[categorie])
