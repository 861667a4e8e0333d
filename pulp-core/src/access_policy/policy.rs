//! [`AccessPolicy`] and its [`Statement`]s (drf-access-policy's format, as Pulp stores it),
//! and the decision for one request.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::validation::ValidationErrors;

/// Whether a statement allows or denies what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Allows the request (unless a deny statement also matches).
    Allow,
    /// Denies the request, whatever allow statements say.
    Deny,
}

/// One statement of a policy: which actions, by which principals, with which effect, under
/// which conditions (all must hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Actions it covers: `list`, `retrieve`, `create`, `update`, `partial_update`,
    /// `destroy`, a custom action (`sync`, `modify`, `reset`…), `*` (every action),
    /// `<safe_methods>` (GET, HEAD, OPTIONS) or `<method:post>`.
    #[serde(deserialize_with = "one_or_many")]
    pub action: Vec<String>,
    /// Who it covers: `*` (anyone), `authenticated`, `anonymous`, `admin` (superusers),
    /// `staff`, `id:<user id>`, `user:<username>`, `group:<name>`.
    #[serde(deserialize_with = "one_or_many")]
    pub principal: Vec<String>,
    /// Allow or deny.
    pub effect: Effect,
    /// Conditions that must all hold (`has_model_or_domain_perms:file.add_fileremote`…).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub condition: Vec<String>,
    /// A boolean expression of conditions (`a and (b or c)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_expression: Option<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

impl Statement {
    /// A statement allowing `actions` to `principals`.
    pub fn allow(actions: &[&str], principals: &[&str]) -> Self {
        Self::new(Effect::Allow, actions, principals)
    }

    /// A statement denying `actions` to `principals`.
    pub fn deny(actions: &[&str], principals: &[&str]) -> Self {
        Self::new(Effect::Deny, actions, principals)
    }

    fn new(effect: Effect, actions: &[&str], principals: &[&str]) -> Self {
        Self {
            action: actions.iter().map(|a| a.to_string()).collect(),
            principal: principals.iter().map(|p| p.to_string()).collect(),
            effect,
            condition: Vec::new(),
            condition_expression: None,
        }
    }

    /// The statement, applying only when `condition` also holds.
    pub fn when(mut self, condition: &str) -> Self {
        self.condition.push(condition.to_string());
        self
    }

    fn covers_action(&self, action: &str, method: &str) -> bool {
        let method = method.to_ascii_lowercase();
        self.action.iter().any(|a| {
            a == "*"
                || a == action
                || (a == "<safe_methods>" && matches!(method.as_str(), "get" | "head" | "options"))
                || a.strip_prefix("<method:")
                    .and_then(|m| m.strip_suffix('>'))
                    .is_some_and(|m| m.eq_ignore_ascii_case(&method))
        })
    }

    fn covers_principal(&self, who: &Requester) -> bool {
        self.principal.iter().any(|p| match p.as_str() {
            "*" => true,
            "authenticated" => who.authenticated,
            "anonymous" => !who.authenticated,
            "admin" | "staff" => who.is_superuser,
            other => {
                if let Some(id) = other.strip_prefix("id:") {
                    who.id.as_deref() == Some(id)
                } else if let Some(name) = other.strip_prefix("user:") {
                    who.username.as_deref() == Some(name)
                } else if let Some(name) = other.strip_prefix("group:") {
                    who.groups.iter().any(|g| g == name)
                } else {
                    false
                }
            }
        })
    }

    /// Whether each condition holds: `Some(true)`/`Some(false)` when known, `None` for a
    /// condition this server cannot evaluate.
    fn conditions(&self, answer: &dyn Fn(&str) -> Option<bool>) -> Vec<Option<bool>> {
        let mut out: Vec<Option<bool>> = self.condition.iter().map(|c| answer(c)).collect();
        if let Some(expression) = &self.condition_expression {
            out.push(evaluate_expression(expression, answer));
        }
        out
    }

    /// The conditions named by the statement: its `condition` list and the operands of its
    /// `condition_expression`.
    fn condition_names(&self) -> Vec<String> {
        let mut names = self.condition.clone();
        if let Some(expression) = &self.condition_expression {
            names.extend(
                tokens(expression)
                    .into_iter()
                    .filter(|t| !matches!(t.as_str(), "(" | ")" | "and" | "or" | "not")),
            );
        }
        names
    }
}

/// The tokens of a `condition_expression`: parentheses, `and`/`or`/`not`, condition names.
fn tokens(expression: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for ch in expression.chars() {
        if ch.is_whitespace() || ch == '(' || ch == ')' {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        } else {
            current.push(ch);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A `condition_expression` (drf-access-policy's: conditions joined by `and`, `or`, `not`
/// and parentheses) under three-valued logic: an unknown condition makes the whole unknown
/// unless the rest decides it; a malformed expression is unknown.
fn evaluate_expression(expression: &str, answer: &dyn Fn(&str) -> Option<bool>) -> Option<bool> {
    struct Parser<'a> {
        tokens: Vec<String>,
        at: usize,
        answer: &'a dyn Fn(&str) -> Option<bool>,
    }
    impl Parser<'_> {
        fn peek(&self) -> Option<&str> {
            self.tokens.get(self.at).map(String::as_str)
        }
        // Ok(value) or Err(()) when malformed.
        fn or(&mut self) -> Result<Option<bool>, ()> {
            let mut value = self.and()?;
            while self.peek() == Some("or") {
                self.at += 1;
                let right = self.and()?;
                value = match (value, right) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                };
            }
            Ok(value)
        }
        fn and(&mut self) -> Result<Option<bool>, ()> {
            let mut value = self.not()?;
            while self.peek() == Some("and") {
                self.at += 1;
                let right = self.not()?;
                value = match (value, right) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
            }
            Ok(value)
        }
        fn not(&mut self) -> Result<Option<bool>, ()> {
            match self.peek() {
                Some("not") => {
                    self.at += 1;
                    Ok(self.not()?.map(|v| !v))
                }
                Some("(") => {
                    self.at += 1;
                    let value = self.or()?;
                    if self.peek() != Some(")") {
                        return Err(());
                    }
                    self.at += 1;
                    Ok(value)
                }
                Some(")") | Some("and") | Some("or") | None => Err(()),
                Some(name) => {
                    let value = (self.answer)(name);
                    self.at += 1;
                    Ok(value)
                }
            }
        }
    }
    let mut parser = Parser {
        tokens: tokens(expression),
        at: 0,
        answer,
    };
    match parser.or() {
        Ok(value) if parser.at == parser.tokens.len() => value,
        _ => None,
    }
}

/// Without a database at hand, Pulp's permission checks (`has_model_perms:…`…) hold for
/// superusers only; other conditions are unknown. Requests are decided with every condition
/// evaluated (see [`super::conditions`]) through [`AccessPolicy::decide`].
fn evaluate_condition(condition: &str, who: &Requester) -> Option<bool> {
    let name = condition.split(':').next().unwrap_or_default();
    ((name.starts_with("has_") && name.ends_with("perms")) || name.ends_with("_perm"))
        .then_some(who.is_superuser)
}

/// Who makes a request, as the policy sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// Authenticated at all.
    pub authenticated: bool,
    /// A superuser.
    pub is_superuser: bool,
    /// The user's id (`id:` principals).
    pub id: Option<String>,
    /// The user's name (`user:` principals).
    pub username: Option<String>,
    /// The names of the user's groups (`group:` principals).
    pub groups: Vec<String>,
}

/// The access policy of one viewset (a group of API operations: `repositories/file/file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessPolicy {
    /// The statements; a request not allowed by one of them is denied.
    pub statements: Vec<Statement>,
    /// Hooks run when an object is created (Pulp assigns roles with them); kept as given.
    #[serde(default)]
    pub creation_hooks: Vec<Value>,
    /// Restricts lists to what the user may see (`{"function": "scope_queryset"}`); `None`
    /// lists everything.
    #[serde(default)]
    pub queryset_scoping: Option<Value>,
}

impl AccessPolicy {
    /// A policy of `statements`, without creation hooks or scoping.
    pub fn new(statements: Vec<Statement>) -> Self {
        Self {
            statements,
            creation_hooks: Vec::new(),
            queryset_scoping: None,
        }
    }

    /// The policy, with lists scoped to the objects a user may see (Pulp's
    /// `{"function": "scope_queryset"}`).
    pub fn scoped(mut self) -> Self {
        self.queryset_scoping = Some(serde_json::json!({"function": "scope_queryset"}));
        self
    }

    /// Whether lists are scoped.
    pub fn is_scoped(&self) -> bool {
        match &self.queryset_scoping {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => !o.is_empty(),
            Some(_) => true,
        }
    }

    /// Whether a statement names `action` (itself, `*`, or a method pattern).
    pub fn names_action(&self, action: &str) -> bool {
        self.statements.iter().any(|s| {
            s.action
                .iter()
                .any(|a| a == action || a == "*" || a.starts_with('<'))
        })
    }

    /// Whether `who` may perform `action` (requested with HTTP `method`): no matching deny
    /// statement applies, and a matching allow statement does. A condition that cannot be
    /// evaluated keeps an allow statement from applying and lets a deny statement apply
    /// (when in doubt, deny).
    pub fn allows(&self, action: &str, method: &str, who: &Requester) -> bool {
        self.decide(action, method, who, &|c| evaluate_condition(c, who))
    }

    /// The conditions of the statements that apply to `who` doing `action` (each once): what
    /// must be evaluated before [`AccessPolicy::decide`].
    pub fn conditions_to_evaluate(
        &self,
        action: &str,
        method: &str,
        who: &Requester,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for statement in self
            .statements
            .iter()
            .filter(|s| s.covers_action(action, method) && s.covers_principal(who))
        {
            for condition in statement.condition_names() {
                if !out.contains(&condition) {
                    out.push(condition);
                }
            }
        }
        out
    }

    /// Whether `who` may perform `action`, with conditions answered by `answer` (`None`: not
    /// known). Same rules as [`AccessPolicy::allows`].
    pub fn decide(
        &self,
        action: &str,
        method: &str,
        who: &Requester,
        answer: &dyn Fn(&str) -> Option<bool>,
    ) -> bool {
        let matching = self
            .statements
            .iter()
            .filter(|s| s.covers_action(action, method) && s.covers_principal(who));
        let mut allowed = false;
        for statement in matching {
            let conditions = statement.conditions(answer);
            match statement.effect {
                Effect::Deny if !conditions.contains(&Some(false)) => return false,
                Effect::Allow if conditions.iter().all(|c| *c == Some(true)) => allowed = true,
                _ => {}
            }
        }
        allowed
    }
}

/// Reads the statements of a request body (a list of statement objects), with field errors
/// under `statements` naming the statement at fault.
pub fn parse_statements(value: &Value, errors: &mut ValidationErrors) -> Option<Vec<Statement>> {
    let Some(items) = value.as_array() else {
        errors.add("statements", "Expected a list of statements.");
        return None;
    };
    let mut statements = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match serde_json::from_value::<Statement>(item.clone()) {
            Ok(statement) if statement.action.is_empty() || statement.principal.is_empty() => {
                errors.add(
                    "statements",
                    format!("Statement {i}: `action` and `principal` must not be empty."),
                );
            }
            Ok(statement) => statements.push(statement),
            Err(e) => {
                errors.add("statements", format!("Statement {i}: {e}."));
            }
        }
    }
    Some(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> Requester {
        Requester {
            authenticated: true,
            is_superuser: false,
            id: Some(id.into()),
            username: Some(format!("user-{id}")),
            groups: vec!["team".into()],
        }
    }

    #[test]
    fn allow_needs_a_matching_statement_whose_conditions_hold() {
        let policy = AccessPolicy::new(vec![
            Statement::allow(&["list"], &["authenticated"]),
            Statement::allow(&["create"], &["authenticated"])
                .when("has_model_or_domain_perms:file.add_fileremote"),
            Statement::allow(&["sync"], &["id:7", "user:bob"]),
            Statement::allow(&["modify"], &["group:team"]),
        ]);
        let alice = user("1");
        assert!(policy.allows("list", "GET", &alice));
        assert!(!policy.allows("create", "POST", &alice), "no permission");
        assert!(!policy.allows("destroy", "DELETE", &alice), "no statement");
        assert!(policy.allows("sync", "POST", &user("7")));
        let bob = Requester {
            username: Some("bob".into()),
            ..user("2")
        };
        assert!(policy.allows("sync", "POST", &bob));
        assert!(!policy.allows("sync", "POST", &alice));
        assert!(
            policy.allows("modify", "POST", &alice),
            "a member of `team`"
        );
        let loner = Requester {
            groups: Vec::new(),
            ..user("3")
        };
        assert!(!policy.allows("modify", "POST", &loner));
        let anonymous = Requester::default();
        assert!(!policy.allows("list", "GET", &anonymous));
    }

    #[test]
    fn deny_wins_and_unknown_conditions_deny() {
        let policy = AccessPolicy::new(vec![
            Statement::allow(&["*"], &["*"]),
            Statement::deny(&["<method:delete>"], &["authenticated"]),
            Statement::allow(&["modify"], &["authenticated"]).when("is_full_moon"),
            Statement::deny(&["sync"], &["authenticated"]).when("is_full_moon"),
        ]);
        let alice = user("1");
        assert!(policy.allows("retrieve", "GET", &alice));
        assert!(!policy.allows("destroy", "DELETE", &alice));
        assert!(
            !policy.allows("sync", "POST", &alice),
            "unknown deny condition applies"
        );
        assert!(
            policy.allows("modify", "POST", &alice),
            "allowed by the `*` statement"
        );
        let strict = AccessPolicy::new(vec![
            Statement::allow(&["modify"], &["authenticated"]).when("is_full_moon")
        ]);
        assert!(
            !strict.allows("modify", "POST", &alice),
            "unknown allow condition"
        );
        let expression = |e: &str| Statement {
            condition_expression: Some(e.into()),
            ..Statement::allow(&["sync"], &["authenticated"])
        };
        let answer = |c: &str| match c {
            "yes" => Some(true),
            "no" => Some(false),
            _ => None,
        };
        for (e, holds) in [
            ("yes and (no or yes)", true),
            ("not no and yes", true),
            ("no or (yes and no)", false),
            ("unknown or yes", true),
            ("unknown and no", false),
        ] {
            let policy = AccessPolicy::new(vec![expression(e)]);
            assert_eq!(policy.decide("sync", "POST", &alice, &answer), holds, "{e}");
        }
        for unknown_or_broken in ["unknown and yes", "yes and", "(yes", "yes no", ""] {
            let allow = AccessPolicy::new(vec![expression(unknown_or_broken)]);
            assert!(
                !allow.decide("sync", "POST", &alice, &answer),
                "{unknown_or_broken}"
            );
        }
        assert_eq!(
            AccessPolicy::new(vec![expression("a:x.y and not (b or a:x.y)")])
                .conditions_to_evaluate("sync", "POST", &alice),
            ["a:x.y", "b"]
        );
        let safe = AccessPolicy::new(vec![Statement::allow(&["<safe_methods>"], &["*"])]);
        assert!(safe.allows("anything", "HEAD", &alice));
        assert!(!safe.allows("anything", "POST", &alice));
    }

    #[test]
    fn statements_parse_from_pulp_json_and_refuse_unknown_keys() {
        let mut errors = ValidationErrors::new();
        let parsed = parse_statements(
            &serde_json::json!([
                {"action": "list", "principal": "authenticated", "effect": "allow"},
                {"action": ["create"], "principal": ["admin"], "effect": "deny", "condition": "has_model_perms:x"},
            ]),
            &mut errors,
        )
        .unwrap_or_default();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed[0].action, ["list"]);
        assert_eq!(parsed[1].condition, ["has_model_perms:x"]);
        for bad in [
            serde_json::json!([{"action": "list", "principal": "*", "effect": "allow", "colour": "red"}]),
            serde_json::json!([{"action": "list", "principal": "*", "effect": "maybe"}]),
            serde_json::json!([{"action": [], "principal": "*", "effect": "allow"}]),
            serde_json::json!([{"principal": "*", "effect": "allow"}]),
            serde_json::json!({"action": "list"}),
        ] {
            let mut errors = ValidationErrors::new();
            parse_statements(&bad, &mut errors);
            assert!(
                !errors.messages("statements").is_empty(),
                "{bad} was accepted"
            );
        }
    }
}
