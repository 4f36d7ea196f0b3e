"""The sql checker: the seed article's Text-to-SQL tasks, the known traps, and row-comparison properties."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import assert_fails, assert_passes, judged, parsed

from pytest_gptoss.checkers import sql
from pytest_gptoss.checkers.sql import comparison, extraction, running, translation
from pytest_gptoss.checkers.sql.spec import CaseSql, SqlSpec, UntranslatableSql
from pytest_gptoss.verdict import SpecError, Verdict

# --- the seed article's two tasks, schemas, data and reference answers verbatim

# 统计每个城市的客户总订单金额，按金额从高到低排序
ORDERS_SETUP = """\
-- 订单表
CREATE TABLE orders (
    order_id INT PRIMARY KEY,
    customer_id INT,
    product_name VARCHAR(100),
    quantity INT,
    unit_price DECIMAL(10,2),
    order_date DATE
);

-- 客户表
CREATE TABLE customers (
    customer_id INT PRIMARY KEY,
    customer_name VARCHAR(50),
    city VARCHAR(30),
    registration_date DATE
);

INSERT INTO customers VALUES
(1, '小明', '北京', '2022-01-01'),
(2, '小红', '上海', '2022-02-15'),
(3, '小刚', '广州', '2021-12-20');

INSERT INTO orders VALUES
(101, 1, '笔记本电脑', 2, 5000.00, '2023-03-01'),
(102, 1, '鼠标', 3, 50.00, '2023-03-05'),
(103, 2, '键盘', 1, 200.00, '2023-03-10'),
(104, 3, '显示器', 1, 1500.00, '2023-03-15');
"""

ORDERS_REFERENCE = """\
SELECT c.city,
       SUM(o.quantity * o.unit_price) as total_amount
FROM customers c
JOIN orders o ON c.customer_id = o.customer_id
GROUP BY c.city
ORDER BY total_amount DESC;
"""

# 找出每个班级中数学成绩最高的学生姓名、成绩，以及该学生的平均分（所有科目），要求平均分保留两位小数
SCORES_SETUP = """\
-- 学生表
CREATE TABLE students (
    student_id INT PRIMARY KEY,
    student_name VARCHAR(50),
    class_id INT,
    birth_date DATE
);

-- 课程表
CREATE TABLE courses (
    course_id INT PRIMARY KEY,
    course_name VARCHAR(100),
    credits INT,
    teacher_name VARCHAR(50)
);

-- 成绩表
CREATE TABLE scores (
    student_id INT,
    course_id INT,
    score INT,
    exam_date DATE,
    PRIMARY KEY (student_id, course_id)
);

-- 班级表
CREATE TABLE classes (
    class_id INT PRIMARY KEY,
    class_name VARCHAR(50),
    grade_level INT
);

INSERT INTO classes VALUES (1, '高一(1)班', 1), (2, '高一(2)班', 1);
INSERT INTO students VALUES
(1, '张同学', 1, '2007-05-15'),
(2, '李同学', 1, '2007-08-20'),
(3, '王同学', 2, '2007-03-10');

INSERT INTO courses VALUES
(1, '数学', 4, '陈老师'),
(2, '语文', 4, '刘老师'),
(3, '英语', 3, '王老师');

INSERT INTO scores VALUES
(1, 1, 95, '2023-06-15'),
(1, 2, 88, '2023-06-16'),
(2, 1, 78, '2023-06-15'),
(2, 2, 92, '2023-06-16'),
(3, 1, 85, '2023-06-15');
"""

SCORES_REFERENCE = """\
WITH class_math_max AS (
    SELECT cl.class_id,
           cl.class_name,
           MAX(sc.score) as max_math_score
    FROM classes cl
    JOIN students st ON cl.class_id = st.class_id
    JOIN scores sc ON st.student_id = sc.student_id
    JOIN courses co ON sc.course_id = co.course_id
    WHERE co.course_name = '数学'
    GROUP BY cl.class_id, cl.class_name
),
student_avg AS (
    SELECT st.student_id,
           st.student_name,
           st.class_id,
           ROUND(AVG(sc.score), 2) as avg_score
    FROM students st
    JOIN scores sc ON st.student_id = sc.student_id
    GROUP BY st.student_id, st.student_name, st.class_id
)
SELECT cmm.class_name,
       st.student_name,
       sc.score as math_score,
       sa.avg_score
FROM class_math_max cmm
JOIN students st ON cmm.class_id = st.class_id
JOIN scores sc ON st.student_id = sc.student_id
JOIN courses co ON sc.course_id = co.course_id
JOIN student_avg sa ON st.student_id = sa.student_id
WHERE co.course_name = '数学'
  AND sc.score = cmm.max_math_score;
"""

ORDERS = {"setup": ORDERS_SETUP, "reference": ORDERS_REFERENCE}
SCORES = {"setup": SCORES_SETUP, "reference": SCORES_REFERENCE}
ORDERS_ROWS = [["北京", 10150.0], ["广州", 1500.0], ["上海", 200.0]]
SCORES_ROWS = [["高一(1)班", "张同学", 95, 91.5], ["高一(2)班", "王同学", 85, 85.0]]

TIES_SETUP = """\
CREATE TABLE players (name VARCHAR(10), score INT);
INSERT INTO players VALUES ('a', 90), ('b', 90), ('c', 80), ('d', 70);
"""


def fenced(query: str, tag: str = "sql") -> str:
    return f"```{tag}\n{query}\n```"


def judge(spec: dict, answer: str) -> Verdict:
    verdict = sql.CHECKER.check(spec, answer)
    assert verdict.checker == "sql"
    return verdict


def assert_error(verdict: Verdict, *why: str) -> None:
    assert verdict.error and not verdict.passed, verdict.explain()
    for part in why:
        assert part in verdict.why, verdict.explain()


# ------------------------------------------------------------ seed tasks


def test_seed_orders_reference_answer_passes_and_shows_its_rows() -> None:
    verdict = judge(ORDERS, fenced(ORDERS_REFERENCE))
    assert_passes(verdict)
    assert verdict.details["expected_rows"] == ORDERS_ROWS
    assert verdict.details["found_rows"] == ORDERS_ROWS
    assert verdict.details["ordered"] is True
    assert "('北京', 10150.0)" in verdict.expected and "(city, total_amount)" in verdict.expected


def test_seed_scores_reference_answer_passes_as_a_bag() -> None:
    verdict = judge(SCORES, fenced(SCORES_REFERENCE))
    assert_passes(verdict)
    assert verdict.details["expected_rows"] == SCORES_ROWS
    assert verdict.details["ordered"] is False


ORDERS_EQUIVALENTS = {
    "other-aliases": """
        SELECT cu.city AS 城市, SUM(od.quantity * od.unit_price) AS 金额
        FROM orders od INNER JOIN customers cu ON od.customer_id = cu.customer_id
        GROUP BY cu.city ORDER BY 金额 DESC;""",
    "implicit-join-order-by-position": """
        SELECT customers.city, SUM(orders.quantity * orders.unit_price)
        FROM customers, orders WHERE customers.customer_id = orders.customer_id
        GROUP BY customers.city ORDER BY 2 DESC""",
    "mysql-backticks": """
        SELECT `c`.`city`, SUM(`o`.`quantity` * `o`.`unit_price`) AS `total_amount`
        FROM `customers` AS `c` JOIN `orders` AS `o` ON `c`.`customer_id` = `o`.`customer_id`
        GROUP BY `c`.`city` ORDER BY `total_amount` DESC""",
    "cte": """
        WITH order_totals AS (
            SELECT customer_id, SUM(quantity * unit_price) AS amount FROM orders GROUP BY customer_id
        )
        SELECT c.city, SUM(t.amount) AS total_amount
        FROM customers c JOIN order_totals t ON t.customer_id = c.customer_id
        GROUP BY c.city ORDER BY SUM(t.amount) DESC""",
    "derived-table": """
        SELECT x.city, x.total FROM (
            SELECT c.city AS city, SUM(o.quantity * o.unit_price) AS total
            FROM customers c JOIN orders o USING (customer_id) GROUP BY c.city
        ) AS x ORDER BY x.total DESC""",
    "rounded-decimal": """
        SELECT c.city, ROUND(SUM(o.quantity * o.unit_price), 2) AS total_amount
        FROM customers c JOIN orders o ON c.customer_id = o.customer_id
        GROUP BY c.city ORDER BY total_amount DESC""",
    "integers-for-decimals": """
        SELECT c.city, SUM(o.quantity * CAST(o.unit_price AS SIGNED)) AS total_amount
        FROM customers c JOIN orders o ON c.customer_id = o.customer_id
        GROUP BY c.city ORDER BY total_amount DESC""",
}


@pytest.mark.parametrize("query", ORDERS_EQUIVALENTS.values(), ids=ORDERS_EQUIVALENTS.keys())
def test_equivalent_orders_queries_pass(query: str) -> None:
    assert_passes(judge(ORDERS, fenced(query)))


def test_integer_totals_really_are_integers_yet_equal_the_decimal_ones() -> None:
    verdict = judge(ORDERS, fenced(ORDERS_EQUIVALENTS["integers-for-decimals"]))
    assert_passes(verdict)
    assert verdict.details["found_rows"][0] == ["北京", 10150]
    assert isinstance(verdict.details["found_rows"][0][1], int)


SCORES_WINDOW = """
WITH ranked AS (
    SELECT st.student_id, st.student_name, st.class_id, sc.score,
           RANK() OVER (PARTITION BY st.class_id ORDER BY sc.score DESC) AS rnk
    FROM students st
    JOIN scores sc ON sc.student_id = st.student_id
    JOIN courses co ON co.course_id = sc.course_id
    WHERE co.course_name = '数学'
)
SELECT cl.class_name, r.student_name, r.score AS math_score,
       (SELECT ROUND(AVG(s2.score), 2) FROM scores s2 WHERE s2.student_id = r.student_id) AS avg_score
FROM ranked r JOIN classes cl ON cl.class_id = r.class_id
WHERE r.rnk = 1"""


def test_scores_with_a_window_function_passes() -> None:
    assert_passes(judge(SCORES, fenced(SCORES_WINDOW)))


def test_scores_in_another_row_order_pass_since_the_reference_has_no_order_by() -> None:
    assert_passes(judge(SCORES, fenced(SCORES_WINDOW + "\nORDER BY cl.class_name DESC")))


def test_scores_lowest_instead_of_highest_fails_naming_the_rows() -> None:
    wrong = SCORES_WINDOW.replace("ORDER BY sc.score DESC", "ORDER BY sc.score")
    assert wrong != SCORES_WINDOW
    verdict = judge(SCORES, fenced(wrong))
    assert_fails(verdict)
    assert verdict.why == (
        "row ('高一(1)班', '张同学', 95, 91.5) missing; extra row ('高一(1)班', '李同学', 78, 85.0)"
    )


# ------------------------------------------------------------- columns

SCORES_SWAPPED = """
SELECT st.student_name, cmm.class_name, sa.avg_score, sc.score AS math_score
FROM (SELECT cl.class_id, cl.class_name, MAX(sc.score) AS max_math_score
      FROM classes cl JOIN students st ON cl.class_id = st.class_id
      JOIN scores sc ON st.student_id = sc.student_id
      JOIN courses co ON sc.course_id = co.course_id
      WHERE co.course_name = '数学' GROUP BY cl.class_id, cl.class_name) cmm
JOIN students st ON cmm.class_id = st.class_id
JOIN scores sc ON st.student_id = sc.student_id AND sc.score = cmm.max_math_score
JOIN courses co ON sc.course_id = co.course_id AND co.course_name = '数学'
JOIN (SELECT student_id, ROUND(AVG(score), 2) AS avg_score FROM scores GROUP BY student_id) sa
  ON sa.student_id = st.student_id"""


def test_other_column_order_fails_by_default_and_says_so() -> None:
    verdict = judge(SCORES, fenced(SCORES_SWAPPED))
    assert_fails(verdict, "columns in another order", "column_order: free")


def test_other_column_order_passes_with_column_order_free() -> None:
    verdict = judge({**SCORES, "column_order": "free"}, fenced(SCORES_SWAPPED))
    assert_passes(verdict)
    assert verdict.details["column_matching"] == [1, 0, 3, 2]


def test_other_column_order_keeps_the_row_order_rule() -> None:
    swapped_asc = """
        SELECT SUM(o.quantity * o.unit_price) AS total, c.city FROM customers c
        JOIN orders o ON c.customer_id = o.customer_id GROUP BY c.city ORDER BY total"""
    spec = {**ORDERS, "column_order": "free"}
    assert_passes(judge(spec, fenced(swapped_asc.replace("ORDER BY total", "ORDER BY total DESC"))))
    assert_fails(judge(spec, fenced(swapped_asc)), "order differs at row 1")


SCORES_WITH_CLASS_ID = SCORES_REFERENCE.replace(
    "SELECT cmm.class_name,\n", "SELECT cmm.class_id, cmm.class_name,\n"
)


def test_extra_column_fails_by_default() -> None:
    assert SCORES_WITH_CLASS_ID != SCORES_REFERENCE
    verdict = judge(SCORES, fenced(SCORES_WITH_CLASS_ID))
    assert_fails(verdict, "column count 5 vs 4", "extra_columns: true")


def test_extra_column_passes_with_extra_columns_true() -> None:
    verdict = judge({**SCORES, "extra_columns": True}, fenced(SCORES_WITH_CLASS_ID))
    assert_passes(verdict)
    assert verdict.details["column_matching"] == [1, 2, 3, 4]


def test_extra_columns_still_need_the_right_rows() -> None:
    wrong = SCORES_WITH_CLASS_ID.replace("AND sc.score = cmm.max_math_score", "")
    assert_fails(judge({**SCORES, "extra_columns": True}, fenced(wrong)), "extra row")


def test_extra_columns_in_strict_order_must_keep_the_expected_order() -> None:
    shuffled = SCORES_WITH_CLASS_ID.replace(
        "cmm.class_id, cmm.class_name,\n       st.student_name,",
        "cmm.class_id, st.student_name, cmm.class_name,",
    )
    assert shuffled != SCORES_WITH_CLASS_ID
    assert_fails(judge({**SCORES, "extra_columns": True}, fenced(shuffled)))
    assert_passes(judge({**SCORES, "extra_columns": True, "column_order": "free"}, fenced(shuffled)))


def test_too_few_columns_fail() -> None:
    verdict = judge(ORDERS, fenced("SELECT city FROM customers"))
    assert_fails(verdict, "column count 1 vs 2")


# ------------------------------------------------------------ row order

ORDERS_ASC = ORDERS_REFERENCE.replace("DESC", "ASC")


def test_wrong_order_direction_fails_at_the_first_differing_row() -> None:
    assert ORDERS_ASC != ORDERS_REFERENCE
    verdict = judge(ORDERS, fenced(ORDERS_ASC))
    assert_fails(verdict)
    assert verdict.why == "order differs at row 1: expected ('北京', 10150.0), found ('上海', 200.0)"


def test_missing_order_by_fails_for_an_ordered_reference() -> None:
    unordered = ORDERS_REFERENCE.replace("\nORDER BY total_amount DESC", "")
    assert_fails(judge(ORDERS, fenced(unordered)), "order differs")


def test_ordered_false_overrides_the_reference_order_by() -> None:
    assert_passes(judge({**ORDERS, "ordered": False}, fenced(ORDERS_ASC)))


def test_ordered_true_makes_row_order_count_without_order_by() -> None:
    reversed_rows = SCORES_WINDOW + "\nORDER BY cl.class_name DESC"
    assert_passes(judge({**SCORES, "ordered": False}, fenced(reversed_rows)))
    assert_fails(judge({**SCORES, "ordered": True}, fenced(reversed_rows)), "order differs at row 1")


ORDER_BY_ONLY_INSIDE = {
    "subquery": """
        SELECT t.city, t.total_amount FROM (
            SELECT c.city, SUM(o.quantity * o.unit_price) AS total_amount
            FROM customers c JOIN orders o ON c.customer_id = o.customer_id
            GROUP BY c.city ORDER BY total_amount DESC) t""",
    "cte": """
        WITH t AS (
            SELECT c.city, SUM(o.quantity * o.unit_price) AS total_amount
            FROM customers c JOIN orders o ON c.customer_id = o.customer_id
            GROUP BY c.city ORDER BY total_amount DESC)
        SELECT city, total_amount FROM t""",
    "window-and-string": """
        SELECT c.city, SUM(o.quantity * o.unit_price) AS total_amount
        FROM customers c JOIN orders o ON c.customer_id = o.customer_id
        WHERE 'ORDER BY total_amount DESC' <> c.city
          AND c.city IN (SELECT w.city FROM (
              SELECT city, ROW_NUMBER() OVER (ORDER BY city DESC) AS rn FROM customers) w)
        GROUP BY c.city""",
}


@pytest.mark.parametrize("reference", ORDER_BY_ONLY_INSIDE.values(), ids=ORDER_BY_ONLY_INSIDE.keys())
def test_order_by_only_inside_the_query_compares_unordered(reference: str) -> None:
    spec = {**ORDERS, "reference": reference}
    verdict = judge(spec, fenced(ORDERS_ASC))
    assert_passes(verdict)
    assert verdict.details["ordered"] is False


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT a FROM t ORDER BY a", (True, [0])),
        ("SELECT a, b AS total FROM t ORDER BY total DESC, a", (True, [1, 0])),
        (
            "SELECT c.city, SUM(o.x) FROM c JOIN o ON 1 = 1 GROUP BY c.city ORDER BY SUM(o.x) DESC, c.city",
            (True, [1, 0]),
        ),
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", (True, [0])),
        ("SELECT a, b FROM t ORDER BY LENGTH(b)", (True, None)),
        ("SELECT * FROM t ORDER BY a", (True, None)),
        ("(SELECT a FROM t ORDER BY a)", (True, [0])),
        ("SELECT * FROM (SELECT a FROM t ORDER BY a) s", (False, None)),
        ("WITH c AS (SELECT a FROM t ORDER BY a) SELECT a FROM c", (False, None)),
        ("SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM t", (False, None)),
        ("SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY b)", (False, None)),
        ("SELECT 'ORDER BY a' AS s FROM t", (False, None)),
        ("SELECT a FROM t -- ORDER BY a", (False, None)),
    ],
)
def test_reference_order_is_read_from_the_outermost_query(query: str, expected: tuple) -> None:
    import sqlglot

    assert translation.reference_order(sqlglot.parse_one(query, read="mysql")) == expected


def test_rows_tied_on_the_order_by_key_may_come_in_any_order() -> None:
    spec = {"setup": TIES_SETUP, "reference": "SELECT name, score FROM players ORDER BY score DESC"}
    assert_passes(judge(spec, fenced("SELECT name, score FROM players ORDER BY score DESC, name DESC")))
    ascending = judge(spec, fenced("SELECT name, score FROM players ORDER BY score"))
    assert_fails(ascending, "order differs at row 1")
    verdict = judge(spec, fenced("SELECT name, score FROM players ORDER BY score DESC, name"))
    assert_passes(verdict)


def test_ties_on_a_key_outside_the_output_compare_the_whole_sequence() -> None:
    spec = {"setup": TIES_SETUP, "reference": "SELECT name FROM players ORDER BY score DESC, name"}
    assert_passes(judge(spec, fenced("SELECT name FROM players ORDER BY score DESC, name")))
    tie_broken_otherwise = judge(spec, fenced("SELECT name FROM players ORDER BY score DESC, name DESC"))
    assert_fails(tie_broken_otherwise, "order differs at row 1")


# ------------------------------------------------------------ wrong rows


def test_missing_group_by_gives_wrong_rows() -> None:
    no_group_by = ORDERS_REFERENCE.replace("GROUP BY c.city\n", "")
    assert no_group_by != ORDERS_REFERENCE
    verdict = judge(ORDERS, fenced(no_group_by))
    assert_fails(verdict, "3 rows expected, 1 found", "3 rows missing", "extra row")


def test_a_wrong_total_names_the_missing_and_the_extra_row() -> None:
    prices_only = ORDERS_REFERENCE.replace("SUM(o.quantity * o.unit_price)", "SUM(o.unit_price)")
    verdict = judge(ORDERS, fenced(prices_only))
    assert_fails(verdict)
    assert verdict.why == "row ('北京', 10150.0) missing; extra row ('北京', 5050.0)"


@pytest.mark.parametrize(
    ("reference", "answer", "tolerance", "passes"),
    [
        ("SELECT 10000", "SELECT 10000.0", None, True),
        ("SELECT 0.1 + 0.2", "SELECT 0.3", None, True),
        ("SELECT 10000", "SELECT 10000.1", None, False),
        ("SELECT 10000", "SELECT 10000.1", 0.01, True),
        ("SELECT 1.5", "SELECT '1.5'", None, False),
        ("SELECT NULL", "SELECT 0", None, False),
        ("SELECT 7 / 2", "SELECT 3.5", None, True),
    ],
)
def test_numbers_compare_with_tolerance(
    reference: str, answer: str, tolerance: float | None, passes: bool
) -> None:
    spec = {"setup": TIES_SETUP, "reference": reference}
    if tolerance is not None:
        spec["float_tol"] = tolerance
    verdict = judge(spec, fenced(answer))
    assert not verdict.error, verdict.explain()
    assert verdict.passed is passes, verdict.explain()


# --------------------------------------------------------- bad answers


def test_unparseable_sql_fails_and_says_so() -> None:
    unbalanced = "SELECT c.city, SUM(o.quantity * o.unit_price FROM customers c GROUP BY c.city"
    verdict = judge(ORDERS, fenced(unbalanced))
    assert_fails(verdict)
    assert verdict.why.startswith("SQL does not parse: "), verdict.why
    assert "\x1b" not in verdict.why


def test_an_answer_without_sql_fails() -> None:
    assert_fails(judge(ORDERS, "我不知道怎么写这个查询。"), "no SQL query")


def test_sql_that_sqlite_cannot_express_fails_as_unsupported() -> None:
    verdict = judge(ORDERS, fenced("SELECT city, customer_id FROM customers FOR UPDATE"))
    assert_fails(verdict, "SQLite cannot do", "mysql -> sqlite")


def test_sql_that_fails_on_sqlite_fails_with_sqlites_message() -> None:
    verdict = judge(ORDERS, fenced("SELECT city, amount FROM customers"))
    assert_fails(verdict, "SQL fails on SQLite", "no such column")


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("DROP TABLE orders;", "DROP denied"),
        ("DELETE FROM orders;", "DELETE denied"),
        ("UPDATE orders SET quantity = 0", "UPDATE denied"),
        ("WITH n AS (SELECT 9 AS id) INSERT INTO customers SELECT id, '小李', '深圳', '2023-01-01' FROM n",
         "INSERT denied"),
        ("CREATE TABLE copy AS SELECT * FROM orders", "CREATE denied"),
        ("ALTER TABLE orders ADD COLUMN note TEXT", "ALTER denied"),
        ("PRAGMA table_info(orders)", "PRAGMA denied"),
        ("SELECT name, type FROM pragma_table_info('orders')", "PRAGMA function"),
    ],
)
def test_statements_that_write_or_reach_outside_are_denied(answer: str, why: str) -> None:
    verdict = judge(ORDERS, fenced(answer))
    assert_fails(verdict, why, "may only read")


def test_attach_is_denied(tmp_path) -> None:
    target = tmp_path / "stolen.db"
    spec = {**ORDERS, "dialect": "sqlite", "setup": "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);",
            "reference": "SELECT a FROM t"}
    verdict = judge(spec, fenced(f"ATTACH DATABASE '{target}' AS stolen"))
    assert_fails(verdict, "ATTACH denied")
    assert not target.exists()


def test_a_runaway_recursive_cte_is_stopped_by_the_timeout() -> None:
    runaway = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT 'x', COUNT(*) FROM n"
    verdicts: list[Verdict] = []
    worker = threading.Thread(
        target=lambda: verdicts.append(judge({**ORDERS, "timeout": 0.5}, fenced(runaway))), daemon=True
    )
    started = time.monotonic()
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the runaway query was not stopped"
    assert time.monotonic() - started < 5
    assert_fails(verdicts[0], "timeout", "still running after 0.5 s")


def test_a_query_returning_too_many_rows_fails(monkeypatch) -> None:
    monkeypatch.setattr(running, "MAX_ROWS", 5)
    many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i, i FROM n"
    assert_fails(judge(ORDERS, fenced(many)), "more than 5 rows")


# ---------------------------------------------------- broken case → error


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"reference": "SELECT city, SUM(amount FROM customers"}, "reference does not parse"),
        ({"reference": "SELECT city, no_such_column FROM customers"}, "reference fails on SQLite"),
        ({"reference": "DELETE FROM orders"}, "reference holds no SELECT/WITH query"),
        ({"reference": "SELECT city FROM customers FOR UPDATE"}, "reference uses what SQLite cannot do"),
        (
            {
                "reference": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n",
                "timeout": 0.3,
            },
            "still running",
        ),
        ({"setup": ORDERS_SETUP.replace("INSERT INTO orders", "INSERT INTO order")}, "setup"),
        ({"setup": ORDERS_SETUP + "INSERT INTO missing_table VALUES (1);"}, "setup fails on SQLite"),
        (
            {"setup": "CREATE TABLE t (a INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"},
            "setup uses what SQLite cannot do",
        ),
    ],
)
def test_a_broken_case_is_an_error_not_a_failure(change: dict, why: str) -> None:
    assert_error(judge({**ORDERS, **change}, fenced(ORDERS_REFERENCE)), why)


# ------------------------------------------------------------ extraction


def test_the_sql_block_wins_over_other_fenced_blocks() -> None:
    answer = "```\nSELECT 1\n```\n说明如下。\n```sql\nSELECT 2\n```\n```python\nprint(3)\n```"
    extracted = extraction.extract_sql(answer)
    assert extracted is not None
    assert extracted.sql == "SELECT 2"
    assert extracted.where == "```sql block at line 5"


def test_the_last_sql_block_holding_a_query_is_taken() -> None:
    answer = "```sql\nSELECT 1;\n```\n```sql\nSELECT 2;\n```\n```sql\n-- 完\n```"
    extracted = extraction.extract_sql(answer)
    assert extracted is not None and extracted.sql == "SELECT 2;"
    assert "block 2 of 3" in extracted.where


def test_an_untagged_fenced_block_is_used_when_no_sql_block_exists() -> None:
    extracted = extraction.extract_sql("答案：\n```\nSELECT a FROM t\n```")
    assert extracted is not None and extracted.sql == "SELECT a FROM t"
    assert extracted.where == "fenced block at line 2"


def test_without_fences_the_text_from_the_first_query_on_is_taken() -> None:
    extracted = extraction.extract_sql("Here is a query with a CTE:\nWITH x AS (SELECT 1) SELECT * FROM x")
    assert extracted is not None and extracted.sql == "WITH x AS (SELECT 1) SELECT * FROM x"
    extracted = extraction.extract_sql("查询如下：SELECT a FROM t")
    assert extracted is not None and extracted.sql == "SELECT a FROM t"
    assert extraction.extract_sql("no query here, only words") is None


def test_an_unclosed_fence_runs_to_the_end() -> None:
    extracted = extraction.extract_sql("```sql\nSELECT a\nFROM t")
    assert extracted is not None and extracted.sql == "SELECT a\nFROM t"


def test_an_unfenced_query_followed_by_prose_passes() -> None:
    answer = "查询如下：\n" + ORDERS_REFERENCE + "\n\n该查询先连接两张表，再按城市汇总并排序。"
    verdict = judge(ORDERS, answer)
    assert_passes(verdict)
    assert verdict.where == "the text from line 2 on (no fenced block)"


@pytest.mark.parametrize(
    "answer",
    [
        "To answer this you would use SELECT.\n```python\nimport sqlite3\nprint('hello')\n",
        "先用 SELECT, 再排序。\n```python\nprint(1)\n```\n",
        "Here it is:\n```python\nrows = db.execute('SELECT city FROM orders')\n```\n",
    ],
    ids=["prose SELECT. then an unclosed python block", "prose SELECT, then a python block", "a query in a python string"],
)
def test_a_prose_select_or_a_non_sql_block_is_no_query(answer: str) -> None:
    # the word SELECT in prose is no query, and a block's text never becomes "the text ... (no fenced block)"
    assert extraction.extract_sql(answer) is None
    verdict = judge(ORDERS, answer)
    assert_fails(verdict, "no SQL query in the answer: no ```sql block, none in the ```python block at line 2")
    assert ("(unclosed)" in verdict.why) == (answer.count("```") == 1)
    assert "no fenced block" not in verdict.why + verdict.where and "does not parse" not in verdict.why


def test_an_unfenced_query_stops_where_a_fenced_block_starts() -> None:
    extracted = extraction.extract_sql("The query: SELECT a FROM t\n```python\nprint(1)\n```")
    assert extracted is not None and extracted.sql == "SELECT a FROM t"
    assert extracted.where == "the text from line 1 on (outside the ```python block at line 2, which holds no query)"


def test_of_several_statements_the_last_query_runs() -> None:
    answer = fenced("USE shop;\nSELECT 1;\n" + ORDERS_REFERENCE)
    verdict = judge(ORDERS, answer)
    assert_passes(verdict)
    assert verdict.where.endswith("statement 3 of 3")
    answer = fenced(ORDERS_REFERENCE + "\nSELECT 1;")
    assert_fails(judge(ORDERS, answer), "column count 1 vs 2")


# -------------------------------------------------------------- dialects


def test_another_dialect_is_transpiled() -> None:
    spec = {
        "dialect": "postgres",
        "setup": "CREATE TABLE people (id INTEGER, name TEXT);\n"
        "INSERT INTO people VALUES (1, 'Ann'), (2, 'bob');",
        "reference": "SELECT name FROM people WHERE name ILIKE 'B%'",
    }
    assert_passes(judge(spec, fenced("SELECT p.name::TEXT FROM people AS p WHERE LOWER(p.name) LIKE 'b%'")))
    assert_fails(judge(spec, fenced("SELECT name FROM people WHERE name LIKE 'A%'")), "missing")


# ------------------------------------------------------------------ spec


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ("SELECT 1", (), "mapping"),
        ({"reference": "SELECT 1"}, ("setup",), "required"),
        ({**ORDERS, "reference": "  "}, ("reference",), "non-empty"),
        ({**ORDERS, "dialect": "mysqll"}, ("dialect",), "did you mean mysql"),
        ({**ORDERS, "dialect": 3}, ("dialect",), "unknown SQL dialect"),
        ({**ORDERS, "ordered": "yes"}, ("ordered",), "true or false"),
        ({**ORDERS, "float_tol": -1}, ("float_tol",), ">= 0"),
        ({**ORDERS, "float_tol": True}, ("float_tol",), "number"),
        ({**ORDERS, "timeout": 0}, ("timeout",), "> 0"),
        ({**ORDERS, "column_order": "loose"}, ("column_order",), "strict or free"),
        ({**ORDERS, "extra_columns": "yes"}, ("extra_columns",), "true or false"),
        ({**ORDERS, "orderd": True}, ("orderd",), "unknown key"),
    ],
)
def test_validate_rejects_bad_specs(spec: object, path: tuple, message: str) -> None:
    with pytest.raises(SpecError) as info:
        sql.CHECKER.parse(spec)
    assert info.value.path == path
    assert message in info.value.message


@pytest.mark.parametrize("dialect", ["mysql", "sqlite", "postgres", "tsql", "MySQL"])
def test_validate_accepts_full_specs(dialect: str) -> None:
    spec = sql.CHECKER.parse({**ORDERS, "dialect": dialect, "ordered": None, "float_tol": 0.001, "timeout": 2,
                              "column_order": "free", "extra_columns": True})
    assert isinstance(spec, SqlSpec)
    assert (spec.dialect, spec.float_tol, spec.timeout) == (dialect.lower(), 0.001, 2.0)
    assert spec.free_column_order and spec.extra_columns


def test_a_bad_dialect_is_a_spec_error_at_parse_not_an_error_verdict() -> None:
    with pytest.raises(SpecError) as info:
        sql.CHECKER.check({**ORDERS, "dialect": "nosuchdialect"}, fenced(ORDERS_REFERENCE))
    assert info.value.path == ("dialect",)
    assert info.value.message.startswith("unknown SQL dialect 'nosuchdialect'")
    assert "known dialects: " in info.value.message and "mysql" in info.value.message


def test_parse_applies_the_defaults_and_translates_the_case_sql() -> None:
    spec = sql.CHECKER.parse(ORDERS)
    assert (spec.dialect, spec.float_tol, spec.timeout) == ("mysql", 1e-6, 5.0)
    assert not spec.free_column_order and not spec.extra_columns
    case_sql = spec.case_sql
    assert isinstance(case_sql, CaseSql)
    assert len(case_sql.setup) == 4 and "CREATE TABLE orders (order_id INTEGER PRIMARY KEY" in case_sql.setup[0]
    assert "ORDER BY total_amount DESC" in case_sql.reference
    assert case_sql.ordered is True and case_sql.tie_columns == (1,)
    unordered = sql.CHECKER.parse({**ORDERS, "ordered": False}).case_sql
    assert isinstance(unordered, CaseSql) and unordered.ordered is False


@pytest.mark.parametrize(
    ("change", "part", "why"),
    [
        ({"reference": "SELECT city, SUM(amount FROM customers"}, "reference", "does not parse"),
        ({"setup": "CREATE TABLE t (a INT) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;"}, "setup", "SQLite cannot do"),
    ],
)
def test_case_sql_that_does_not_translate_parses_and_is_kept_for_the_verdict(change: dict, part: str, why: str) -> None:
    # a broken case is an error verdict at judge time (see above), not a spec error at collection
    case_sql = sql.CHECKER.parse({**ORDERS, **change}).case_sql
    assert isinstance(case_sql, UntranslatableSql)
    assert case_sql.part == part and why in case_sql.why


def test_the_registry_dispatches_to_the_sql_checker() -> None:
    with pytest.raises(SpecError) as info:
        parsed({"sql": {**ORDERS, "dialect": "mysqll"}})
    assert info.value.path == ("sql", "dialect")
    assert judged({"sql": ORDERS}, {"final": fenced(ORDERS_REFERENCE)}).passed
    assert not judged({"sql": ORDERS}, {"final": fenced(ORDERS_ASC)}).passed


# ---------------------------------------------------------- the verdict


def test_a_verdict_is_plain_data_and_fits_one_screen() -> None:
    setup = "CREATE TABLE n (i INT);\n" + "".join(f"INSERT INTO n VALUES ({i});\n" for i in range(40))
    spec = {"setup": setup, "reference": "SELECT i, 'x' AS tag FROM n"}
    verdict = judge(spec, fenced("SELECT i, 'y' FROM n"))
    assert_fails(verdict, "40 rows missing", "and 37 more")
    text = verdict.explain()
    assert len(text.splitlines()) <= 30, text
    assert "... and 30 more" in text
    data = json.loads(json.dumps(verdict.to_dict()))
    assert Verdict.from_dict(data) == verdict
    assert data["details"]["sql"] == "SELECT i, 'y' FROM n"
    assert data["details"]["expected_row_count"] == 40


def test_a_long_value_is_clipped_in_the_explanation() -> None:
    spec = {"setup": TIES_SETUP, "reference": f"SELECT '{'x' * 100}'"}
    verdict = judge(spec, fenced("SELECT 'y'"))
    assert_fails(verdict)
    shown = "'" + "x" * 58 + "…"
    assert verdict.why == f"row ({shown},) missing; extra row ('y',)"
    assert f"  ({shown},)" in verdict.expected
    assert verdict.details["expected_rows"] == [["x" * 100]]


def test_sqlglot_is_imported_on_first_use_only() -> None:
    # not by importing the checker, nor by parsing a check that does not use it; parsing an sql spec does
    code = (
        "import sys, pytest_gptoss.checkers.sql\n"
        "from pytest_gptoss import checkers\n"
        "from pytest_gptoss.checkers.registry import Registry\n"
        "checkers.parse({'numeric': {'answer': 2}}, Registry())\n"
        "assert 'sqlglot' not in sys.modules\n"
        "checkers.parse({'sql': {'setup': 'CREATE TABLE t (a INT);', 'reference': 'SELECT a FROM t'}}, Registry())\n"
        "assert 'sqlglot' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------- row-comparison properties

VALUES = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6),
    st.integers(-(10**5), 10**5).map(lambda i: i / 2),  # floats at least 0.5 apart
    st.text(max_size=4),
)


@st.composite
def tables(draw: st.DrawFn, min_rows: int = 0) -> list[tuple]:
    width = draw(st.integers(1, 4))
    return draw(st.lists(st.tuples(*[VALUES] * width), min_size=min_rows, max_size=12))


@given(st.data())
def test_permuting_rows_is_a_no_op_for_a_bag(data: st.DataObject) -> None:
    rows = data.draw(tables())
    permuted = data.draw(st.permutations(rows))
    assert comparison.compare_rows(rows, permuted, ordered=False) is None


@given(st.data())
def test_permuting_rows_is_not_a_no_op_when_order_counts(data: st.DataObject) -> None:
    rows = data.draw(tables(min_rows=2))
    permuted = data.draw(st.permutations(rows))
    why = comparison.compare_rows(rows, permuted, ordered=True)
    if list(permuted) == rows:
        assert why is None
    else:
        assert why is not None and why.startswith("order differs at row")


@given(st.data())
def test_duplicating_a_row_changes_a_bag(data: st.DataObject) -> None:
    rows = data.draw(tables(min_rows=1))
    duplicated = rows + [data.draw(st.sampled_from(rows))]
    found_more = comparison.compare_rows(rows, duplicated, ordered=False)
    found_fewer = comparison.compare_rows(duplicated, rows, ordered=False)
    assert found_more is not None and "extra row" in found_more
    assert found_fewer is not None and "missing" in found_fewer


@given(st.lists(st.tuples(st.integers(-(10**9), 10**9), st.floats(-1e9, 1e9)), max_size=10))
def test_integers_as_floats_and_tiny_float_noise_change_nothing(rows: list[tuple[int, float]]) -> None:
    noisy = [(float(i), x * (1 + 1e-9)) for i, x in rows]
    assert comparison.compare_rows(rows, noisy, ordered=True) is None


@settings(max_examples=50)
@given(st.lists(st.tuples(st.integers(0, 3), st.text(max_size=3)), min_size=2, max_size=10), st.randoms())
def test_shuffling_within_ties_keeps_an_ordered_comparison(rows: list[tuple[int, str]], random) -> None:
    expected = sorted(rows, key=lambda r: r[0])
    shuffled = sorted(expected, key=lambda r: (r[0], random.random()))
    assert comparison.compare_rows(expected, shuffled, ordered=True, tie_columns=[0]) is None
    reversed_keys = sorted(expected, key=lambda r: -r[0])
    if [r[0] for r in reversed_keys] != [r[0] for r in expected]:
        assert comparison.compare_rows(expected, reversed_keys, ordered=True, tie_columns=[0]) is not None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (10000, 10000.0, True),
        (0.1 + 0.2, 0.3, True),
        (1e-9, 0, True),
        (1.0, 1.1, False),
        (None, None, True),
        (None, 0, False),
        ("1", 1, False),
        ("a", "A", False),
        (2**60, 2**60 + 1, False),
        (b"x", "x", False),
        (float("nan"), float("nan"), True),
        (float("inf"), float("inf"), True),
        (float("inf"), 1e308, False),
    ],
)
def test_same_value(a: object, b: object, same: bool) -> None:
    assert comparison.same_value(a, b) is same
    assert comparison.same_value(b, a) is same
