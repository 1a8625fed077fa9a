//! Which fields of `value` or `key` a condition reads, so that only those cross from the
//! host: `value.op == 'u' && value.after.id > 5` reads `op` and `after.id`, not the row.

use cel_parser::ast::{EntryExpr, Expr, IdedExpr};

/// The field paths under `variable` that `expr` reads, none a prefix of another; `None` when
/// it uses the variable otherwise than by selecting fields (`size(value)`, `value['op']`,
/// `value.get('op')` on the root, or `has(value.x)`, which needs to know every field).
pub fn field_paths(expr: &IdedExpr, variable: &str) -> Option<Vec<Vec<String>>> {
    let mut walk = Walk {
        variable,
        scope: Vec::new(),
        paths: Vec::new(),
    };
    walk.expr(expr);
    let mut paths = walk.paths;
    if paths.iter().any(Vec::is_empty) {
        return None;
    }
    paths.sort();
    paths.dedup();
    let keep: Vec<Vec<String>> = paths
        .iter()
        .filter(|p| !paths.iter().any(|q| q.len() < p.len() && p.starts_with(q)))
        .cloned()
        .collect();
    Some(keep)
}

struct Walk<'a> {
    variable: &'a str,
    /// Comprehension variables in scope, which shadow the record's.
    scope: Vec<String>,
    /// The paths read; an empty one means the whole variable.
    paths: Vec<Vec<String>>,
}

impl Walk<'_> {
    /// The path of a chain of field selections on the variable (`value.after.id`).
    fn chain(&self, expr: &IdedExpr) -> Option<Vec<String>> {
        match &expr.expr {
            Expr::Ident(name) if name == self.variable && !self.scope.contains(name) => {
                Some(Vec::new())
            }
            Expr::Select(select) if !select.test => {
                let mut path = self.chain(&select.operand)?;
                path.push(select.field.clone());
                Some(path)
            }
            _ => None,
        }
    }

    fn expr(&mut self, expr: &IdedExpr) {
        if let Some(path) = self.chain(expr) {
            self.paths.push(path);
            return;
        }
        match &expr.expr {
            Expr::Select(select) => {
                // `has(value.a.b)` needs all of `value.a` to tell whether `b` is there.
                match self.chain(&select.operand) {
                    Some(path) => self.paths.push(path),
                    None => self.expr(&select.operand),
                }
            }
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                call.args.iter().for_each(|a| self.expr(a));
            }
            Expr::List(list) => list.elements.iter().for_each(|e| self.expr(e)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        self.expr(&e.key);
                        self.expr(&e.value);
                    }
                }
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let bound = self.scope.len();
                self.scope.push(c.iter_var.clone());
                self.scope.extend(c.iter_var2.clone());
                self.scope.push(c.accu_var.clone());
                for e in [&c.loop_cond, &c.loop_step, &c.result] {
                    self.expr(e);
                }
                self.scope.truncate(bound);
            }
            // A bare identifier that is the variable is a chain (the whole of it).
            Expr::Ident(_) | Expr::Literal(_) | Expr::Struct(_) | Expr::Unspecified => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cel_parser::Parser;

    fn paths(source: &str) -> Option<Vec<String>> {
        let expr = Parser::new().parse(source).unwrap();
        field_paths(&expr, "value").map(|ps| ps.into_iter().map(|p| p.join(".")).collect())
    }

    #[test]
    fn field_selections_are_read_alone() {
        assert_eq!(
            paths("value.n >= 0 && value.__op != 'd'"),
            Some(vec!["__op".into(), "n".into()])
        );
        assert_eq!(
            paths("value.after.id > 5 && size(value.after) > 1 || value.op == 'u'"),
            Some(vec!["after".into(), "op".into()])
        );
        assert_eq!(
            paths("value.after.get('id') == 1"),
            Some(vec!["after".into()])
        );
        assert_eq!(paths("has(value.after.id)"), Some(vec!["after".into()]));
        assert_eq!(paths("topic == 'x'"), Some(vec![]));
        // A comprehension variable named like the record's shadows it.
        assert_eq!(
            paths("[1].all(value, value.x > 0) && value.y == 1"),
            Some(vec!["y".into()])
        );
    }

    #[test]
    fn other_uses_need_the_whole_value() {
        for source in [
            "size(value) > 0",
            "value['op'] == 'u'",
            "value.get('op') == 'u'",
            "has(value.op)",
            "value == null",
        ] {
            assert_eq!(paths(source), None, "{source}");
        }
    }
}
