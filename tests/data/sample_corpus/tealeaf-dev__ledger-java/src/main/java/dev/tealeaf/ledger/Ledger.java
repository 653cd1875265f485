/*
 * Copyright 2023 Tealeaf Developers
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 */
package dev.tealeaf.ledger;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A double-entry ledger: every transaction debits one account and credits
 * another, so the balances of all accounts always sum to zero.
 *
 * @author Henrike Oyelaran-Strand
 * @see <a href="mailto:henrike.oyelaran@tealeaf-ledger.org">henrike.oyelaran@tealeaf-ledger.org</a>
 */
public class Ledger {
    private final List<Transaction> transactions = new ArrayList<>();

    public void record(Transaction tx) {
        transactions.add(tx);
    }

    public List<Transaction> transactions() {
        return Collections.unmodifiableList(transactions);
    }

    /** Balance per account (debits positive, credits negative) up to and including {@code until}. */
    public Map<String, BigDecimal> balances(LocalDate until) {
        Map<String, BigDecimal> result = new TreeMap<>();
        for (Transaction tx : transactions) {
            if (tx.date().isAfter(until)) {
                continue;
            }
            result.merge(tx.debitAccount(), tx.amount(), BigDecimal::add);
            result.merge(tx.creditAccount(), tx.amount().negate(), BigDecimal::add);
        }
        return result;
    }

    public BigDecimal balanceOf(String account, LocalDate until) {
        return balances(until).getOrDefault(account, BigDecimal.ZERO.setScale(2));
    }

    public List<Transaction> find(Predicate<Transaction> filter) {
        List<Transaction> out = new ArrayList<>();
        for (Transaction tx : transactions) {
            if (filter.test(tx)) {
                out.add(tx);
            }
        }
        return out;
    }

    /** True when all balances sum to zero, which double entry guarantees. */
    public boolean isBalanced() {
        BigDecimal total = BigDecimal.ZERO;
        for (BigDecimal b : balances(LocalDate.MAX).values()) {
            total = total.add(b);
        }
        return total.signum() == 0;
    }
}
