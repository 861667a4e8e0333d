//! Pulp's `q` filter: list filters combined with `AND`, `OR`, `NOT` and parentheses, e.g.
//! `q=name__contains="a" AND NOT pulp_label_select="env=prod"` or
//! `q=(name=a OR name=b) AND pulp_created__gte="2026-01-01T00:00:00Z"`.
//!
//! Each `field=value` term is compiled by the list's own filters (so `q` accepts exactly the
//! filters of the endpoint), then the terms' SQL is combined by the expression.

use std::future::Future;

use crate::api::list::{QueryParams, SqlWhere};
use crate::api::ApiError;

/// A parsed `q` expression.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Term(usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    Term(String, String),
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::field("q", message)
}

fn tokenize(text: &str) -> Result<Vec<Token>, ApiError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push(Token::Open);
            i += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            i += 1;
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && chars[i] != '='
                && chars[i] != '('
                && chars[i] != ')'
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if i < chars.len() && chars[i] == '=' {
                i += 1;
                let value = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                    let quote = chars[i];
                    i += 1;
                    let begin = i;
                    while i < chars.len() && chars[i] != quote {
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err(invalid(format!("Unterminated quote after '{word}='.")));
                    }
                    let value: String = chars[begin..i].iter().collect();
                    i += 1;
                    value
                } else {
                    let begin = i;
                    while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ')' {
                        i += 1;
                    }
                    chars[begin..i].iter().collect()
                };
                tokens.push(Token::Term(word, value));
            } else {
                tokens.push(match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => {
                        return Err(invalid(format!(
                            "Expected a filter like name=value, not '{word}'."
                        )))
                    }
                });
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    terms: Vec<(String, String)>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<Expr, ApiError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ApiError> {
        let mut left = self.not()?;
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ApiError> {
        if self.peek() == Some(&Token::Not) {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ApiError> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(invalid("Missing ')'."));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Term(name, value)) => {
                self.at += 1;
                self.terms.push((name, value));
                Ok(Expr::Term(self.terms.len() - 1))
            }
            _ => Err(invalid("Incomplete expression.")),
        }
    }
}

fn parse(text: &str) -> Result<(Expr, Vec<(String, String)>), ApiError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
        terms: Vec::new(),
    };
    let expr = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(invalid("Unexpected text after the expression."));
    }
    if parser.terms.len() > 64 {
        return Err(invalid("Too many terms (at most 64)."));
    }
    Ok((expr, parser.terms))
}

fn render(expr: &Expr, terms: &[String]) -> String {
    match expr {
        Expr::Term(i) => format!("({})", terms[*i]),
        Expr::Not(inner) => format!("NOT {}", render(inner, terms)),
        Expr::And(a, b) => format!("({} AND {})", render(a, terms), render(b, terms)),
        Expr::Or(a, b) => format!("({} OR {})", render(a, terms), render(b, terms)),
    }
}

/// Adds the `q` parameter of `query` (if any) to `filter`; `apply` adds the list's filters
/// for a query holding one term. A term that no filter of the list takes is a field error.
pub async fn apply_q<F, Fut>(
    filter: &mut SqlWhere,
    query: &QueryParams,
    mut apply: F,
) -> Result<(), ApiError>
where
    F: FnMut(SqlWhere, QueryParams) -> Fut,
    Fut: Future<Output = Result<SqlWhere, ApiError>>,
{
    let Some(text) = query.get("q") else {
        return Ok(());
    };
    let (expr, terms) = parse(text)?;
    let mut compiled = Vec::with_capacity(terms.len());
    let mut current = std::mem::replace(filter, SqlWhere::new(filter.backend()));
    for (name, value) in terms {
        if matches!(
            name.as_str(),
            "q" | "limit" | "offset" | "ordering" | "fields" | "exclude_fields"
        ) {
            return Err(invalid(format!("'{name}' cannot be used in q.")));
        }
        let before = current.clause_count();
        current = apply(
            current,
            QueryParams::from_pairs(vec![(name.clone(), value)]),
        )
        .await?;
        let added = current.take_clauses_since(before);
        if added.is_empty() {
            return Err(invalid(format!("'{name}' is not a filter of this list.")));
        }
        compiled.push(added.join(" AND "));
    }
    current.push_numbered_clause(render(&expr, &compiled));
    *filter = current;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_not_and_or() {
        let (expr, terms) = parse(r#"a=1 OR NOT b="x y" AND (c='z')"#).expect("parse");
        assert_eq!(
            terms,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "z".into())
            ]
        );
        let names: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        assert_eq!(render(&expr, &names), "((A) OR (NOT (B) AND (C)))");
    }

    #[test]
    fn malformed_expressions_are_field_errors() {
        for bad in [
            "a=1 AND",
            "(a=1",
            "a=1 b=2",
            "AND a=1",
            "name=\"open",
            "word",
        ] {
            assert!(matches!(parse(bad), Err(ApiError::Validation(_))), "{bad}");
        }
    }
}
