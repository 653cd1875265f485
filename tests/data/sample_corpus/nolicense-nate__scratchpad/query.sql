-- Monthly spending per category from the imported transactions table.
SELECT date_trunc('month', booked_on) AS month,
       category,
       SUM(-amount) AS spent
FROM transactions
WHERE amount < 0
GROUP BY 1, 2
ORDER BY 1, 3 DESC;
