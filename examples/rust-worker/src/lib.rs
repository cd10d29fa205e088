//! A Rust Worker written against workers-rs's D1 API. Switching it to d1plus changed only
//! how the binding is made (the two `unsharded` / not-`unsharded` lines below); `app` is
//! the same code either way (`--features unsharded` builds it on `worker::D1Database`).
//!
//! `GET /scenario` runs a fixed scenario and answers what it saw, as JSON, for
//! e2e/tests/rust-worker.test.mjs to check against local D1.

#[cfg(not(feature = "unsharded"))]
use d1plus::workers::D1Database;
#[cfg(feature = "unsharded")]
use worker::D1Database;

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::*;

#[derive(Debug, Serialize, Deserialize)]
#[allow(non_snake_case)]
struct Event {
    tenantId: String,
    id: i64,
    kind: Option<String>,
    amount: Option<i64>,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    #[cfg(not(feature = "unsharded"))]
    let db = D1Database::from_env(&env, &env.var("D1PLUS_POLICY")?.to_string(), "SHARD_")?;
    #[cfg(feature = "unsharded")]
    let db = env.d1("DB")?;

    if req.path() != "/scenario" {
        return Response::error("not found", 404);
    }
    match app(&db).await {
        Ok(seen) => Response::from_json(&seen),
        Err(e) => Response::from_json(&json!({ "error": e.to_string() })),
    }
}

/// Plain workers-rs D1 code.
async fn app(db: &D1Database) -> Result<serde_json::Value> {
    let created = db
        .exec("CREATE TABLE IF NOT EXISTS events (tenantId TEXT NOT NULL, id INTEGER NOT NULL, kind TEXT, amount INTEGER, PRIMARY KEY (tenantId, id))")
        .await?;
    let insert =
        db.prepare("INSERT INTO events (tenantId, id, kind, amount) VALUES (?1, ?2, ?3, ?4)");
    let rows: [(&str, i32, &str, i32); 5] = [
        ("acme", 1, "click", 10),
        ("tenant-1", 2, "view", 20),
        ("日本語", 3, "click", 30),
        ("ümlaut", 4, "buy", 40),
        ("acme", 5, "buy", 50),
    ];
    let mut statements = Vec::new();
    for (tenant, id, kind, amount) in rows {
        statements.push(insert.clone().bind(&[
            tenant.into(),
            id.into(),
            kind.into(),
            amount.into(),
        ])?);
    }
    let inserted = db.batch(statements).await?;
    let changes: usize = inserted
        .iter()
        .map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0))
        .sum();

    let acme = db
        .prepare("SELECT * FROM events WHERE tenantId = ?1 ORDER BY id")
        .bind(&["acme".into()])?
        .all()
        .await?
        .results::<Event>()?;
    let top: Option<Event> = db
        .prepare("SELECT * FROM events ORDER BY amount DESC LIMIT 1")
        .first(None)
        .await?;
    let total: Option<i64> = db
        .prepare("SELECT sum(amount) AS total FROM events")
        .first(Some("total"))
        .await?;
    let kinds: Vec<Vec<serde_json::Value>> = db
        .prepare("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")
        .raw()
        .await?;
    let bound = worker::d1::D1Type::Text("tenant-1");
    let updated = db
        .prepare("UPDATE events SET amount = amount + 1 WHERE tenantId = ?1")
        .bind_refs(&bound)?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes);
    let deleted = db
        .prepare("DELETE FROM events WHERE tenantId = ?1 AND id = ?2")
        .bind(&["ümlaut".into(), 4.into()])?
        .run()
        .await?
        .meta()?
        .and_then(|m| m.changes);
    let missing = db
        .prepare("SELECT id FROM events LIMIT 1")
        .first::<i64>(Some("nope"))
        .await
        .err()
        .map(|e| e.to_string());
    let failed = db
        .prepare("INSERT INTO events (tenantId, id) VALUES ('acme', 1)")
        .run()
        .await
        .err()
        .map(|e| e.to_string());
    let session = db.with_session(Some("first-primary"))?;
    let in_session: Option<i64> = session
        .prepare("SELECT count(*) AS n FROM events")
        .first(Some("n"))
        .await?;
    let bookmark = session.get_bookmark()?;
    let resumed: Option<i64> = db
        .with_session(bookmark.as_deref())?
        .prepare("SELECT count(*) AS n FROM events WHERE tenantId = 'acme'")
        .first(Some("n"))
        .await?;

    Ok(json!({
        "created": created.count()?,
        "changes": changes,
        "acme": acme,
        "top": top,
        "total": total,
        "kinds": kinds,
        "updated": updated,
        "deleted": deleted,
        "missing": missing,
        "failed": failed,
        "inSession": in_session,
        "bookmark": bookmark,
        "resumed": resumed,
    }))
}
