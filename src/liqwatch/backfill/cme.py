"""Read CME's daily volume & open-interest report (CSV) into end-of-day `OpenInterest` events.

CME counts open interest in contracts, one-sided. Rows are summed over contract months per trade date and product;
options rows are skipped. Column names are matched loosely (case, spaces and punctuation ignored):

    trade date      Trade Date, Date, TradeDate, Business Date, BizDt        YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY
    product         Product Code, Product, Symbol, Commodity Code, Globex    BTC, ETH, MBT, MET (else Product Description)
    open interest   Open Interest, OI, Open Int, Open Interest At Close      contracts; "1,234" accepted
    product type    Product Type, Type (optional)                            F kept, O (options) skipped
    settlement      Settle, Settlement, Settlement Price, Settle Price (optional; gives the USD value)
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from liqwatch.errors import ConfigError
from liqwatch.model import OpenInterest
from liqwatch.model.enums import OpenInterestUnit, Origin
from liqwatch.model.time import now_ns

VENUE = "cme"
# contract multipliers in coin per contract
MULTIPLIERS: dict[str, tuple[str, float]] = {
    "BTC": ("BTC", 5.0),
    "ETH": ("ETH", 50.0),
    "MBT": ("BTC", 0.1),
    "MET": ("ETH", 0.1),
}
_DESCRIPTIONS = (("MICRO BITCOIN", "MBT"), ("MICRO ETHER", "MET"), ("BITCOIN", "BTC"), ("ETHER", "ETH"))
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("tradedate", "date", "businessdate", "bizdt", "tradingdate", "asofdate"),
    "product": (
        "productcode",
        "product",
        "symbol",
        "commoditycode",
        "globex",
        "productsymbol",
        "clearingcode",
    ),
    "oi": ("openinterest", "oi", "openint", "openinterestatclose", "atcloseoi", "totaloi"),
    "type": ("producttype", "type", "securitytype"),
    "settle": ("settle", "settlement", "settlementprice", "settleprice", "priorsettle"),
    "description": ("productdescription", "description", "productname", "name"),
}
ACCEPTED_COLUMNS_HELP = (
    "trade date (Trade Date/Date/Business Date), product (Product Code/Product/Symbol: BTC, ETH, MBT, MET, "
    "or a Product Description naming Bitcoin/Ether/Micro), open interest in contracts (Open Interest/OI/Open Int); "
    "optional Product Type (F kept, O skipped) and Settle/Settlement Price (gives USD)"
)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _find(headers: list[str], role: str) -> str | None:
    by_norm = {_norm(h): h for h in headers}
    return next((by_norm[n] for n in COLUMNS[role] if n in by_norm), None)


def _number(text: str | None) -> float | None:
    cleaned = (text or "").strip().replace(",", "")
    if cleaned in ("", "-", "--"):
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def _date(text: str, line: int) -> date:
    value = text.strip()
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%d-%b-%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ConfigError(
        f"CME file line {line}: trade date {value!r} is not YYYYMMDD, YYYY-MM-DD or MM/DD/YYYY; fix that cell"
    )


def end_of_day_ns(day: date) -> int:
    """Return the last nanosecond of a UTC calendar day."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return int(midnight.timestamp()) * 10**9 - 1


def _product(row: dict[str, str], product_col: str | None, desc_col: str | None) -> str | None:
    code = (row.get(product_col) or "").strip().upper() if product_col else ""
    if code in MULTIPLIERS:
        return code
    desc = (row.get(desc_col) or "").upper() if desc_col else ""
    return next((c for word, c in _DESCRIPTIONS if word in desc), None) if desc else None


def parse_cme_csv(text: str, *, source: str = "CME file", ts_recv: int | None = None) -> list[OpenInterest]:
    """Return one end-of-day OpenInterest per (trade date, product) of BTC/ETH/MBT/MET futures in a CME OI CSV.

    Raises:
        ConfigError: a required column is missing, a cell does not parse, or no crypto futures rows were found.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h for h in (reader.fieldnames or []) if h]
    cols = {role: _find(headers, role) for role in COLUMNS}
    missing = [role for role in ("date", "oi") if cols[role] is None]
    if cols["product"] is None and cols["description"] is None:
        missing.append("product")
    if missing:
        raise ConfigError(
            f"{source}: no {', '.join(missing)} column among {headers}; the file needs {ACCEPTED_COLUMNS_HELP}"
        )
    date_col, oi_col = cols["date"], cols["oi"]
    assert date_col is not None and oi_col is not None
    contracts: dict[tuple[date, str], float] = defaultdict(float)
    usd: dict[tuple[date, str], float | None] = {}
    for line, row in enumerate(reader, start=2):
        if cols["type"] and (row.get(cols["type"]) or "").strip().upper().startswith("O"):
            continue
        product = _product(row, cols["product"], cols["description"])
        if product is None:
            continue
        oi = _number(row.get(oi_col))
        if oi is None:
            continue
        if oi < 0:
            raise ConfigError(f"{source} line {line}: open interest {oi} is negative; fix that cell")
        key = (_date(row.get(date_col) or "", line), product)
        contracts[key] += oi
        settle = _number(row.get(cols["settle"])) if cols["settle"] else None
        previous = usd.get(key, 0.0)
        usd[key] = (
            None if settle is None or previous is None else previous + oi * MULTIPLIERS[product][1] * settle
        )
    if not contracts:
        raise ConfigError(
            f"{source}: no BTC, ETH, MBT or MET futures rows found; check the product column holds those codes"
        )
    received = now_ns() if ts_recv is None else ts_recv
    events: list[OpenInterest] = []
    for (day, product), n in sorted(contracts.items()):
        coin, multiplier = MULTIPLIERS[product]
        base = n * multiplier
        value = usd.get((day, product))
        events.append(
            OpenInterest(
                venue=VENUE,
                symbol=product,
                market=f"{coin}-USD-CME-{product}",
                coin=coin,
                ts_event=end_of_day_ns(day),
                ts_recv=received,
                open_interest=base,
                open_interest_usd=value,
                reference_price=value / base if value is not None and base else None,
                raw_value=n,
                raw_unit=OpenInterestUnit.CONTRACTS,
                raw_two_sided=False,
                origin=Origin.IMPORT,
            )
        )
    return events


def read_cme_file(path: Path) -> list[OpenInterest]:
    """Read a CME OI CSV file (see `parse_cme_csv`).

    Raises:
        ConfigError: the file cannot be read or does not parse.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read CME file {path}: {exc.strerror}; pass an existing CSV file") from None
    return parse_cme_csv(text, source=f"CME file {path}")
