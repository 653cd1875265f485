"""Kata 4: convert between integers and Roman numerals (1..3999)."""

NUMERALS = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"),
    (100, "C"), (90, "XC"), (50, "L"), (40, "XL"),
    (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def to_roman(number: int) -> str:
    if not 0 < number < 4000:
        raise ValueError(f"out of range: {number}")
    parts = []
    for value, symbol in NUMERALS:
        count, number = divmod(number, value)
        parts.append(symbol * count)
    return "".join(parts)


def from_roman(text: str) -> int:
    total = 0
    previous = 0
    for char in reversed(text.upper()):
        value = VALUES[char]
        if value < previous:
            total -= value
        else:
            total += value
            previous = value
    if to_roman(total) != text.upper():
        raise ValueError(f"not a canonical numeral: {text}")
    return total


if __name__ == "__main__":
    assert to_roman(1994) == "MCMXCIV"
    assert from_roman("mmxxiv") == 2024
    assert all(from_roman(to_roman(n)) == n for n in range(1, 4000))
    print("round trip ok")
