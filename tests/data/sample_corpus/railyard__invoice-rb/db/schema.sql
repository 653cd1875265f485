-- Schema for the invoice store (PostgreSQL 14+).
CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    vat_id      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    id          BIGSERIAL PRIMARY KEY,
    number      TEXT NOT NULL UNIQUE,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    issued_on   DATE NOT NULL,
    due_on      DATE NOT NULL,
    tax_rate    NUMERIC(5, 4) NOT NULL DEFAULT 0.19,
    paid_at     TIMESTAMPTZ,
    CHECK (due_on >= issued_on)
);

CREATE TABLE line_items (
    id          BIGSERIAL PRIMARY KEY,
    invoice_id  BIGINT NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    quantity    INTEGER NOT NULL CHECK (quantity > 0),
    unit_price  NUMERIC(12, 2) NOT NULL
);

CREATE INDEX invoices_open_idx ON invoices (due_on) WHERE paid_at IS NULL;

-- Overdue invoices with their totals, used by the reminder job.
CREATE VIEW overdue_invoices AS
SELECT i.number,
       c.name AS customer,
       i.due_on,
       SUM(li.quantity * li.unit_price) * (1 + i.tax_rate) AS total
FROM invoices i
JOIN customers c ON c.id = i.customer_id
JOIN line_items li ON li.invoice_id = i.id
WHERE i.paid_at IS NULL AND i.due_on < CURRENT_DATE
GROUP BY i.number, c.name, i.due_on, i.tax_rate;
