package dev.tealeaf.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.time.LocalDate;
import org.junit.jupiter.api.Test;

class LedgerTest {
    private static final LocalDate JAN_1 = LocalDate.of(2024, 1, 1);
    private static final LocalDate JAN_15 = LocalDate.of(2024, 1, 15);

    @Test
    void balancesFollowDoubleEntry() {
        Ledger ledger = new Ledger();
        ledger.record(new Transaction(JAN_1, "cash", "equity", new BigDecimal("1000"), "opening"));
        ledger.record(new Transaction(JAN_15, "rent", "cash", new BigDecimal("450.5"), "January rent"));

        assertEquals(new BigDecimal("549.50"), ledger.balanceOf("cash", LocalDate.of(2024, 1, 31)));
        assertEquals(new BigDecimal("1000.00"), ledger.balanceOf("cash", JAN_1));
        assertTrue(ledger.isBalanced());
    }

    @Test
    void rejectsNonPositiveAmounts() {
        assertThrows(IllegalArgumentException.class,
                () -> new Transaction(JAN_1, "cash", "equity", BigDecimal.ZERO, null));
    }

    @Test
    void findFiltersByAccount() {
        Ledger ledger = new Ledger();
        ledger.record(new Transaction(JAN_1, "cash", "equity", BigDecimal.TEN, ""));
        ledger.record(new Transaction(JAN_15, "fees", "cash", BigDecimal.ONE, "bank fee"));
        assertEquals(1, ledger.find(tx -> tx.debitAccount().equals("fees")).size());
    }
}
