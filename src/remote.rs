//! `--url URL`: the command line over a deployed d1plus Worker instead of local files,
//! through the example Worker's HTTP API (`POST /query` with `"format": "rows"`,
//! `GET /status`), the way `wrangler d1 execute --remote` reaches a deployed D1. The
//! token is read from `D1PLUS_TOKEN` and checked by the Worker: no token, no access.

use d1plus::error::{Error, ErrorCode};
use d1plus::execute::{Meta, QueryResult};
use d1plus::plan::ShardHint;
use d1plus::value::Value;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// A deployed database.
pub(crate) struct Remote {
    base: String,
    token: String,
    agent: ureq::Agent,
}

/// The Worker's answer.
#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<Failure>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct Failure {
    #[serde(default)]
    code: serde_json::Value,
    message: String,
}

/// One statement's answer with `"format": "rows"`.
#[derive(Deserialize)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
    #[serde(default)]
    meta: Meta,
}

impl Remote {
    /// The Worker at `url` (`https://db.example.workers.dev`), with the token from
    /// `D1PLUS_TOKEN`.
    pub(crate) fn from_env(url: &str) -> Result<Remote, Error> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::with_remedy(
                ErrorCode::InvalidArgument,
                format!("--url {url:?} is not an http(s) URL"),
                "pass the deployed Worker's address, e.g. --url https://my-db.example.workers.dev",
            ));
        }
        let token = std::env::var("D1PLUS_TOKEN").unwrap_or_default();
        if token.is_empty() {
            return Err(Error::with_remedy(
                ErrorCode::Unauthorized,
                "--url needs the Worker's token in the environment variable D1PLUS_TOKEN",
                "export D1PLUS_TOKEN=<the secret set with `wrangler secret put D1PLUS_TOKEN`>",
            ));
        }
        Ok(Remote {
            base: url.trim_end_matches('/').to_string(),
            token,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        })
    }

    /// Runs one statement.
    pub(crate) fn query(
        &self,
        sql: &str,
        params: &[Value],
        hint: Option<&ShardHint>,
    ) -> Result<QueryResult, Error> {
        let body =
            serde_json::json!({"sql": sql, "params": params, "shard": hint, "format": "rows"});
        let mut results: Vec<Rows> = self.call("POST", "/query", Some(body))?;
        let r = results
            .pop()
            .ok_or_else(|| Error::internal("the Worker answered no result"))?;
        Ok(QueryResult {
            columns: r.columns.into(),
            rows: r.rows,
            meta: r.meta,
        })
    }

    /// The plan of one statement, as the deployed Worker makes it (`POST /explain`);
    /// without values, the plan of any values.
    pub(crate) fn explain(
        &self,
        sql: &str,
        params: Option<&[Value]>,
        hint: Option<&ShardHint>,
    ) -> Result<String, Error> {
        let mut body = serde_json::json!({"sql": sql, "shard": hint});
        if let Some(p) = params {
            body["params"] = serde_json::json!(p);
        }
        self.call("POST", "/explain", Some(body))
    }

    /// `d1plus status` of the deployed database.
    pub(crate) fn status(&self) -> Result<d1plus::status::Status, Error> {
        self.call("GET", "/status", None)
    }

    /// `d1plus exec --url`: the script's statements one by one on the deployed database,
    /// printing the rows of those that return rows; stops at the first error.
    pub(crate) fn exec(&self, file: &str) -> Result<(), Error> {
        let script = crate::cli::read_input(file)?;
        let statements = d1plus::lex::split_statements(&script);
        for s in &statements {
            let r = self.query(&script[s.range.clone()], &[], None)?;
            if !r.columns.is_empty() {
                crate::cli::print_table(&r);
            }
        }
        say!("ok: {} statements", statements.len());
        Ok(())
    }

    fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let url = format!("{}{path}", self.base);
        let request = self
            .agent
            .request(method, &url)
            .set("authorization", &format!("Bearer {}", self.token));
        let sent = match body {
            Some(b) => request.send_json(b),
            None => request.call(),
        };
        let response = match sent {
            Ok(r) => r,
            // 4xx and 5xx answers carry the Worker's error.
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                return Err(Error::with_remedy(
                    ErrorCode::Backend,
                    format!("cannot reach {url}: {e}"),
                    "check the URL and that the Worker is deployed",
                ))
            }
        };
        let status = response.status();
        let text = response.into_string().map_err(|e| {
            Error::new(
                ErrorCode::Backend,
                format!("cannot read the answer of {url}: {e}"),
            )
        })?;
        let envelope: Envelope<serde_json::Value> = serde_json::from_str(&text).map_err(|_| {
            Error::with_remedy(
                ErrorCode::Backend,
                format!(
                    "{url} answered {status} with something that is not a d1plus answer: {}",
                    text.chars().take(200).collect::<String>()
                ),
                "point --url at a d1plus Worker (the example Worker's HTTP API)",
            )
        })?;
        if !envelope.success {
            return Err(failure(envelope.errors));
        }
        let result = envelope
            .result
            .ok_or_else(|| Error::internal(format!("{url} answered success without a result")))?;
        serde_json::from_value(result).map_err(|e| {
            Error::internal(format!("{url} answered a result d1plus cannot read: {e}"))
        })
    }
}

/// The Worker's first error as d1plus's own: its code, and its text without the code.
fn failure(errors: Vec<Failure>) -> Error {
    let Some(f) = errors.into_iter().next() else {
        return Error::internal("the Worker failed without saying why");
    };
    let code_text = match &f.code {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let message = f
        .message
        .strip_prefix(&format!("{code_text}: "))
        .unwrap_or(&f.message)
        .to_string();
    match ErrorCode::parse(&code_text) {
        Some(ErrorCode::Backend) | None => Error::backend(None, message),
        Some(code) => Error::new(code, message),
    }
}

/// `d1plus explain`: the plan of a statement, locally or by a deployed Worker. Without
/// `--params`, the plan of any values, parameters shown as ?N.
pub(crate) fn explain(
    dir: Option<PathBuf>,
    url: Option<String>,
    params: Option<String>,
    hint: Option<String>,
    sql: Option<String>,
) -> Result<(), Error> {
    let hint = hint.as_deref().map(crate::cli::parse_hint).transpose()?;
    let params = params
        .map(|p| crate::cli::parse_params(Some(&p)))
        .transpose()?;
    let text = match url {
        Some(url) => {
            let sql = crate::cli::one_argument(dir, sql, "explain --url URL SQL")?;
            Remote::from_env(&url)?.explain(&sql, params.as_deref(), hint.as_ref())?
        }
        None => {
            let (Some(dir), Some(sql)) = (dir, sql) else {
                return Err(crate::cli::usage(
                    "explain takes DIR and a statement (or --url URL)",
                ));
            };
            let db = crate::cli::open(&dir, d1plus::api::Options::default())?;
            match params {
                None => db.explain_unbound(&sql, hint.as_ref())?,
                Some(params) => db.plan(&sql, &params, hint.as_ref())?.to_string(),
            }
        }
    };
    say_part!("{text}");
    Ok(())
}
