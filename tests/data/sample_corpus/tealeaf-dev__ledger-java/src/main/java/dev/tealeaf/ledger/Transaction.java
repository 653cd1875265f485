package dev.tealeaf.ledger;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.Objects;

/** An immutable booking of an amount from one account to another. */
public final class Transaction {
    private final LocalDate date;
    private final String debitAccount;
    private final String creditAccount;
    private final BigDecimal amount;
    private final String memo;

    public Transaction(LocalDate date, String debitAccount, String creditAccount, BigDecimal amount, String memo) {
        this.date = Objects.requireNonNull(date, "date");
        this.debitAccount = requireAccount(debitAccount);
        this.creditAccount = requireAccount(creditAccount);
        if (amount == null || amount.signum() <= 0) {
            throw new IllegalArgumentException("amount must be positive");
        }
        if (debitAccount.equals(creditAccount)) {
            throw new IllegalArgumentException("debit and credit account must differ");
        }
        this.amount = amount.setScale(2, java.math.RoundingMode.HALF_EVEN);
        this.memo = memo == null ? "" : memo.strip();
    }

    private static String requireAccount(String account) {
        if (account == null || account.isBlank()) {
            throw new IllegalArgumentException("account must not be blank");
        }
        return account.strip();
    }

    public LocalDate date() { return date; }
    public String debitAccount() { return debitAccount; }
    public String creditAccount() { return creditAccount; }
    public BigDecimal amount() { return amount; }
    public String memo() { return memo; }

    @Override
    public boolean equals(Object o) {
        if (this == o) return true;
        if (!(o instanceof Transaction)) return false;
        Transaction t = (Transaction) o;
        return date.equals(t.date) && debitAccount.equals(t.debitAccount)
                && creditAccount.equals(t.creditAccount) && amount.equals(t.amount) && memo.equals(t.memo);
    }

    @Override
    public int hashCode() {
        return Objects.hash(date, debitAccount, creditAccount, amount, memo);
    }

    @Override
    public String toString() {
        return date + " " + debitAccount + " -> " + creditAccount + " " + amount + (memo.isEmpty() ? "" : " (" + memo + ")");
    }
}
