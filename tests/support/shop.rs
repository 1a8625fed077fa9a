//! A Postgres `shop` database with an `orders (id, note)` table, and writers that insert into
//! it from a thread of their own while a test watches a connector capture the rows.

use std::process::ExitStatus;
use std::thread::JoinHandle;

use crate::postgres::{Postgres, psql_command};

/// Runs `sql` in database `shop` with psql on its own thread.
pub fn psql_in_background(server: &Postgres, sql: String) -> JoinHandle<ExitStatus> {
    let port = server.port;
    std::thread::spawn(move || {
        psql_command(port, "shop")
            .arg("-c")
            .arg(sql)
            .status()
            .expect("psql runs")
    })
}

/// Inserts 3000 rows into `orders`, 10 per transaction, committed one by one with `pause`
/// seconds between transactions.
pub fn write_orders(server: &Postgres, pause: f64) -> JoinHandle<ExitStatus> {
    psql_in_background(
        server,
        format!(
            "DO $$ BEGIN FOR i IN 0..299 LOOP \
               INSERT INTO orders SELECT g, 'n' || g FROM generate_series(i * 10 + 1, i * 10 + 10) g; \
               COMMIT; PERFORM pg_sleep({pause}); END LOOP; END $$"
        ),
    )
}

/// Inserts rows into `orders`, 10 per transaction with `pause` seconds between transactions,
/// until a row appears in `writer_stop` (see [`stop_writer`]). Unlike [`write_orders`] the
/// stream cannot run dry before the test is ready, however slow the machine is.
pub fn write_orders_until_stopped(server: &Postgres, pause: f64) -> JoinHandle<ExitStatus> {
    server.psql("shop", "CREATE TABLE writer_stop (stop int)");
    psql_in_background(
        server,
        format!(
            "DO $$ BEGIN FOR i IN 0..99999 LOOP \
               EXIT WHEN EXISTS (SELECT FROM writer_stop); \
               INSERT INTO orders SELECT g, 'n' || g FROM generate_series(i * 10 + 1, i * 10 + 10) g; \
               COMMIT; PERFORM pg_sleep({pause}); END LOOP; END $$"
        ),
    )
}

/// Stops a [`write_orders_until_stopped`] writer and returns how many rows it wrote.
pub fn stop_writer(server: &Postgres, writer: JoinHandle<ExitStatus>) -> i64 {
    server.psql("shop", "INSERT INTO writer_stop VALUES (1)");
    assert!(
        writer.join().unwrap().success(),
        "the writer ran to its end"
    );
    let rows = server.psql("shop", "SELECT count(*) FROM orders");
    rows.trim().parse().expect("a row count")
}

/// A throwaway Postgres with database `shop` and its table `orders (id int PRIMARY KEY, note text)`.
pub fn shop() -> Postgres {
    let server = Postgres::start();
    server.create_database("shop");
    server.psql(
        "shop",
        "CREATE TABLE orders (id int PRIMARY KEY, note text)",
    );
    server
}
