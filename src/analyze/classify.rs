//! Statement classification: what a statement is and which tables it names, read from
//! sqlparser's AST.

use super::scopes::Scopes;
use super::tokens::{analyze_tokens, check_trigger};
use super::{Analysis, ReadBy, StatementClass};
use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode, Result};
use crate::parse::Parsed;
use crate::policy::{Policy, TableKind};
use crate::sql::object_name;
use sqlparser::ast::{self as ast, SetExpr, Statement, TableFactor, TableWithJoins};

pub(super) fn analyze_ast(
    stmt: &Statement,
    parsed: &Parsed,
    policy: &Policy,
    catalog: &Catalog,
) -> Result<Analysis> {
    use StatementClass as C;
    let ast_class = |c| Analysis::new(c, ReadBy::Ast);
    let mut scopes = Scopes::new(parsed, policy, catalog);
    let mut analysis = match stmt {
        Statement::Query(_) => {
            let a = ast_class(C::Read);
            scopes.visit(stmt)?;
            if a.class == C::Read && scopes.only_schema_reads() {
                Analysis::new(C::Introspection, ReadBy::Ast)
            } else {
                a
            }
        }
        Statement::Insert(ins) => ast_class(classify_insert(&mut scopes, stmt, ins, policy)?),
        Statement::Update(up) => {
            let table = match &up.table.relation {
                TableFactor::Table { name, .. } => object_name(name),
                _ => return Err(Error::new(ErrorCode::ParseError, "UPDATE without a table")),
            };
            let mut from = vec![&up.table];
            if let Some(
                ast::UpdateTableFromKind::BeforeSet(f) | ast::UpdateTableFromKind::AfterSet(f),
            ) = &up.from
            {
                from.extend(f.iter());
            }
            scopes.push_write_frame(&from, up.selection.as_ref());
            // Subqueries of the write are nested: their keys do not route it.
            scopes.depth_offset = 1;
            scopes.visit(stmt)?;
            ast_class(C::Update { table })
        }
        Statement::Delete(del) => {
            let tables = match &del.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
            };
            let table = match tables.first().map(|t| &t.relation) {
                Some(TableFactor::Table { name, .. }) => object_name(name),
                _ => return Err(Error::new(ErrorCode::ParseError, "DELETE without a table")),
            };
            let mut from: Vec<&TableWithJoins> = tables.iter().collect();
            if let Some(using) = &del.using {
                from.extend(using.iter());
            }
            scopes.push_write_frame(&from, del.selection.as_ref());
            scopes.depth_offset = 1;
            scopes.visit(stmt)?;
            ast_class(C::Delete { table })
        }
        Statement::CreateTable(ct) => {
            check_create_table(&mut scopes, stmt, ct, policy)?;
            ast_class(C::Ddl)
        }
        Statement::CreateTrigger(_) => {
            check_trigger(parsed, policy)?;
            ast_class(C::Ddl)
        }
        Statement::CreateVirtualTable { .. }
        | Statement::CreateIndex(_)
        | Statement::CreateView { .. }
        | Statement::Drop { .. }
        | Statement::DropTrigger(_)
        | Statement::AlterTable(_) => ast_class(C::Ddl),
        Statement::Pragma { is_eq, .. } => {
            if *is_eq {
                ast_class(C::PragmaWrite)
            } else {
                ast_class(C::Introspection)
            }
        }
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::AttachDatabase { .. }
        | Statement::Vacuum(_) => ast_class(C::Transaction),
        Statement::Explain { .. } | Statement::ExplainTable { .. } => ast_class(C::Explain),
        Statement::Analyze(_) => ast_class(C::Maintenance),
        // Whatever else sqlparser accepts (it knows many dialects' statements) is read by
        // the token scan, which sends it home unless it names a sharded table.
        _ => {
            return Ok(analyze_tokens(
                parsed,
                policy,
                catalog,
                "statement kind handled by token scan".into(),
            ));
        }
    };
    scopes.finish(&mut analysis);
    Ok(analysis)
}

/// INSERT: its target, and whether its rows come from a SELECT.
fn classify_insert(
    scopes: &mut Scopes<'_>,
    stmt: &Statement,
    ins: &ast::Insert,
    policy: &Policy,
) -> Result<StatementClass> {
    let table = match &ins.table {
        ast::TableObject::TableName(n) => object_name(n),
        ast::TableObject::TableFunction(f) => object_name(&f.name),
        _ => return Err(Error::new(ErrorCode::ParseError, "INSERT without a table")),
    };
    let from_select = !matches!(
        ins.source.as_deref().map(|q| q.body.as_ref()),
        Some(SetExpr::Values(_)) | None
    );
    // INSERT … SELECT: the SELECT's rows are what gets written, as a read's rows
    // are its output; subqueries inside VALUES rows are nested.
    scopes.depth_offset = usize::from(!from_select);
    scopes.visit(stmt)?;
    scopes.note_table(&table);
    if policy.table_kind(&table) == TableKind::Sharded {
        // The visitor met the target too; its rows are routed by the insert split.
        scopes.registered += 1;
    }
    Ok(StatementClass::Insert { table, from_select })
}

/// CREATE TABLE: `AS SELECT` may create only an unsharded table from unsharded reads.
fn check_create_table(
    scopes: &mut Scopes<'_>,
    stmt: &Statement,
    ct: &ast::CreateTable,
    policy: &Policy,
) -> Result<()> {
    check_key_column(ct, policy)?;
    if ct.query.is_some() {
        let target = object_name(&ct.name);
        if policy.table_kind(&target) != TableKind::Unsharded {
            return Err(Error::with_remedy(
                ErrorCode::Unsupported,
                format!(
                    "CREATE TABLE {target} AS SELECT: {target} is a sharded or reference table"
                ),
                "create the table with a column list, then INSERT its rows",
            ));
        }
        scopes.depth_offset = 1;
        scopes.visit(stmt)?;
        if !scopes.refs.is_empty() {
            return Err(Error::with_remedy(
                ErrorCode::CrossShard,
                "CREATE TABLE … AS SELECT reads a sharded table",
                "create the table with a column list, then INSERT its rows",
            ));
        }
    }
    Ok(())
}

/// A sharded table's key column must exist, compare as BINARY, and have an affinity keys
/// can be placed under: said at CREATE TABLE, not at the first INSERT.
fn check_key_column(ct: &ast::CreateTable, policy: &Policy) -> Result<()> {
    let table = object_name(&ct.name);
    let Some(st) = policy.sharded_table(&table) else {
        return Ok(());
    };
    if ct.query.is_some() {
        return Ok(()); // refused below
    }
    let Some(col) = ct
        .columns
        .iter()
        .find(|c| c.name.value.eq_ignore_ascii_case(&st.key_column))
    else {
        return Err(Error::with_remedy(
            ErrorCode::NoShardKey,
            format!(
                "CREATE TABLE {table}: the policy shards {table} by column {}, which the table does not have",
                st.key_column
            ),
            format!("add a column {} to the table, or change its keyColumn in the policy", st.key_column),
        ));
    };
    for o in &col.options {
        if let ast::ColumnOption::Collation(c) = &o.option {
            let name = object_name(c);
            if !name.eq_ignore_ascii_case("BINARY") {
                return Err(Error::with_remedy(
                    ErrorCode::InvalidShardKey,
                    format!(
                        "CREATE TABLE {table}: shard key column {} has COLLATE {name}; keys equal under {name} but spelled differently would land on different shards",
                        st.key_column
                    ),
                    "declare the key column with the default BINARY collation, and normalize keys (e.g. lower()) in the application",
                ));
            }
        }
    }
    let declared = if col.data_type == ast::DataType::Unspecified {
        String::new()
    } else {
        col.data_type.to_string()
    };
    if crate::value::Affinity::from_declared_type(&declared) == crate::value::Affinity::Real {
        return Err(Error::with_remedy(
            ErrorCode::InvalidShardKey,
            format!(
                "CREATE TABLE {table}: shard key column {} is declared {declared} (REAL affinity), which stores every number as a REAL, and REAL keys have no placement",
                st.key_column
            ),
            "declare the key INTEGER or TEXT",
        ));
    }
    Ok(())
}
