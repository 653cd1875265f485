"""Scratch code: parse my bank's CSV export and total spending per category."""
import csv
import sys
from collections import defaultdict
from decimal import Decimal

CATEGORIES = {
    "REWE": "groceries",
    "EDEKA": "groceries",
    "DB FERNVERKEHR": "travel",
    "STADTWERKE": "utilities",
}


def categorize(payee: str) -> str:
    upper = payee.upper()
    for needle, category in CATEGORIES.items():
        if needle in upper:
            return category
    return "other"


def totals(path):
    sums = defaultdict(Decimal)
    with open(path, newline="", encoding="latin-1") as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            amount = Decimal(row["Betrag"].replace(".", "").replace(",", "."))
            if amount < 0:
                sums[categorize(row["Empfaenger"])] += -amount
    return dict(sums)


if __name__ == "__main__":
    for category, total in sorted(totals(sys.argv[1]).items(), key=lambda kv: -kv[1]):
        print(f"{category:<12} {total:>10.2f}")
