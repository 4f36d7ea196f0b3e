"""A right and a wrong exchange for each case of ``cases/tools.yaml``, as a scripted model plays them.

Each exchange is the model's completions, turn by turn (see
``scripted_model.by_turn``); the tools' answers come from the case's own
tools when the loop runs them. ``tests/transcripts/tools-correct.jsonl`` and
``tools-wrong.jsonl`` are these exchanges as ``--gptoss-record`` wrote them
(``tests/test_tool_cases.py`` checks that they still are).
"""

from __future__ import annotations

from scripted_model import call, final, python

SIEVE = """\
n = 100000
sieve = bytearray([1]) * n
sieve[0:2] = b"\\x00\\x00"
for i in range(2, int(n ** 0.5) + 1):
    if sieve[i]:
        sieve[i * i::i] = bytearray(len(range(i * i, n, i)))
print(sum(i for i in range(n) if sieve[i]))"""

CITY_TOTALS = ("SELECT c.city, SUM(o.quantity * o.unit_price) AS total FROM customers c JOIN orders o "
               "ON c.customer_id = o.customer_id GROUP BY c.city ORDER BY total DESC")

CORRECT: dict[str, tuple[str, ...]] = {
    "tool-unit-conversion": (
        call("unit_factor", '{"unit": "mile"}', "I need km per mile."),
        final(r"26.2 × 1.609344 = 42.1648128, so a marathon is \boxed{42.16} km.", "26.2 * 1.609344 = 42.16."),
    ),
    "tool-sql-city-totals": (
        call("run_sql", '{"query": "' + CITY_TOTALS + '"}', "Sum quantity * unit_price per city."),
        final(r"The customers in 北京 (Beijing) spent the most: \boxed{10150}.", "北京 leads with 10150."),
    ),
    "tool-python-prime-sum": (
        python(SIEVE),
        final(r"The sum of all primes below 100000 is \boxed{454396537}.", "The sieve printed 454396537."),
    ),
    "tool-chain-customer-orders": (
        call("find_customer", '{"name": "小明"}', "First find 小明's id."),
        call("customer_orders", '{"customer_id": 1}', "小明 is customer 1; now the orders."),
        final(r"小明 ordered 2 laptops and 3 mice: \boxed{5} items.", "2 + 3 = 5."),
    ),
    "tool-not-needed": (
        final(r"12 × 12 = \boxed{144}", "Simple multiplication."),
    ),
}

WRONG: dict[str, tuple[str, ...]] = {
    # no call, and the factor from memory, rounded badly
    "tool-unit-conversion": (
        final(r"A marathon is about \boxed{42.2} km.", "A mile is about 1.61 km."),
    ),
    # a query that looks at one customer only
    "tool-sql-city-totals": (
        call("run_sql", '{"query": "SELECT c.city, SUM(o.quantity * o.unit_price) FROM customers c JOIN orders o '
                        'ON c.customer_id = o.customer_id WHERE c.customer_id = 2"}', "Check the totals."),
        final(r"上海 (Shanghai) spent the most: \boxed{200}.", "上海 has 200."),
    ),
    # primes below 10000, not 100000
    "tool-python-prime-sum": (
        python(SIEVE.replace("n = 100000", "n = 10000")),
        final(r"The sum is \boxed{5736396}.", "The sieve printed 5736396."),
    ),
    # skips the look-up and guesses the id
    "tool-chain-customer-orders": (
        call("customer_orders", '{"customer_id": 2}', "小明 is probably customer 2."),
        final(r"小明 ordered \boxed{1} item.", "One order of 1 item."),
    ),
    # calls a tool it does not need
    "tool-not-needed": (
        call("unit_factor", '{"unit": "mile"}', "Maybe a tool helps."),
        final(r"12 × 12 = \boxed{144}", "The tool was no help; 144."),
    ),
}
