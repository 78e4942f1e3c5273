//! The predicate dialect of policy.md ("Predicate dialect"): parsing,
//! type checking against a dataset's contract columns, and compilation to a
//! DataFusion expression. Only what the dialect allows gets through; the
//! planner never sees policy text.
//!
//! Precedence, loosest first: OR; AND; NOT; comparisons, [NOT] IN,
//! [NOT] BETWEEN, [NOT] LIKE, IS [NOT] NULL (not chaining); + -; * / %.

use std::collections::BTreeSet;
use std::fmt;

use arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::{InList, Like};
use datafusion::logical_expr::{binary_expr, cast, lit, Expr, Operator};

use crate::base::contract::{ColumnType, Contract};
use crate::base::ids::{date_to_days, parse_date};

/// Why a predicate is refused: outside the dialect, an unknown column, a
/// type mismatch, not boolean.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PredicateError(pub String);

/// A checked predicate: its text, the typed tree and the columns it reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Predicate {
    pub text: String,
    tree: Typed,
}

impl Predicate {
    /// Parses `text` and checks it against `contract`'s columns. The whole
    /// expression must be boolean.
    pub fn compile(text: &str, contract: &Contract) -> Result<Predicate, PredicateError> {
        Predicate::compile_text(text, contract).map_err(PredicateError)
    }

    fn compile_text(text: &str, contract: &Contract) -> Result<Predicate, String> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(format!("the predicate has {} bytes, at most {MAX_TEXT_BYTES}", text.len()));
        }
        let tokens = lex(text)?;
        let terms = tokens
            .iter()
            .filter(|t| {
                matches!(
                    t.kind,
                    Tok::Number(_) | Tok::Str(_) | Tok::Ident(_) | Tok::Kw(Kw::True | Kw::False | Kw::Null)
                )
            })
            .count();
        if terms > MAX_TERMS {
            return Err(format!("the predicate has {terms} terms, at most {MAX_TERMS}"));
        }
        let mut p = Parser { tokens, at: 0, depth: 0 };
        let ast = p.or()?;
        if let Some(t) = p.peek() {
            return Err(format!("unexpected {} at position {}", t.kind, t.pos + 1));
        }
        let depth = ast.depth(None);
        if depth > MAX_DEPTH {
            return Err(format!("the predicate is nested {depth} levels deep, at most {MAX_DEPTH}"));
        }
        let tree = check(&ast, contract)?;
        if tree.ty != Ty::Bool {
            return Err(format!("the expression is {}, not boolean", tree.ty));
        }
        Ok(Predicate { text: text.to_string(), tree })
    }

    /// The contract columns the predicate reads.
    pub fn columns(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.tree.columns(&mut out);
        out
    }

    /// The DataFusion expression over the dataset's columns.
    pub fn to_expr(&self) -> Expr {
        self.tree.to_expr()
    }
}

// ---------------------------------------------------------------- lexing

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Number(String),
    Str(String),
    Ident(String),
    Kw(Kw),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kw {
    And,
    Or,
    Not,
    In,
    Between,
    Is,
    Null,
    Like,
    True,
    False,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Number(n) => write!(f, "number {n}"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Ident(i) => write!(f, "name {i}"),
            Tok::Kw(k) => write!(f, "{}", format!("{k:?}").to_uppercase()),
            Tok::Op(o) => write!(f, "'{o}'"),
            Tok::LParen => write!(f, "'('"),
            Tok::RParen => write!(f, "')'"),
            Tok::Comma => write!(f, "','"),
        }
    }
}

struct Token {
    kind: Tok,
    pos: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (kind, end) = if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let end = number_end(b, i)?;
            (Tok::Number(text[i..end].to_string()), end)
        } else if c == b'\'' {
            string_literal(text, i)?
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let end = i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            (word(&text[i..end]), end)
        } else {
            let (op, len) = operator(text, i)?;
            (op, i + len)
        };
        out.push(Token { kind, pos: i });
        i = end;
    }
    Ok(out)
}

/// Where the number starting at `start` ends: digits, an optional fraction
/// and an optional exponent, not followed by a letter.
fn number_end(b: &[u8], start: usize) -> Result<usize, String> {
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut i = digits(start);
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if !b.get(j).is_some_and(|d| d.is_ascii_digit()) {
            return Err(format!("malformed number at position {}", start + 1));
        }
        i = digits(j);
    }
    if b.get(i).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') {
        return Err(format!("malformed number at position {}", start + 1));
    }
    Ok(i)
}

/// The string literal whose opening quote is at `start` (a quote inside
/// written twice), and where it ends.
fn string_literal(text: &str, start: usize) -> Result<(Tok, usize), String> {
    let mut s = String::new();
    let mut i = start + 1;
    loop {
        let Some(k) = text[i..].find('\'') else {
            return Err(format!("unterminated string starting at position {}", start + 1));
        };
        s.push_str(&text[i..i + k]);
        i += k + 1;
        if text.as_bytes().get(i) != Some(&b'\'') {
            return Ok((Tok::Str(s), i));
        }
        s.push('\'');
        i += 1;
    }
}

/// A keyword (in any case) or a column name.
fn word(word: &str) -> Tok {
    match word.to_ascii_uppercase().as_str() {
        "AND" => Tok::Kw(Kw::And),
        "OR" => Tok::Kw(Kw::Or),
        "NOT" => Tok::Kw(Kw::Not),
        "IN" => Tok::Kw(Kw::In),
        "BETWEEN" => Tok::Kw(Kw::Between),
        "IS" => Tok::Kw(Kw::Is),
        "NULL" => Tok::Kw(Kw::Null),
        "LIKE" => Tok::Kw(Kw::Like),
        "TRUE" => Tok::Kw(Kw::True),
        "FALSE" => Tok::Kw(Kw::False),
        _ => Tok::Ident(word.to_string()),
    }
}

/// The operator or punctuation at `i` and its length; anything else is
/// outside the dialect.
fn operator(text: &str, i: usize) -> Result<(Tok, usize), String> {
    let two = text.get(i..i + 2).unwrap_or("");
    Ok(match (text.as_bytes()[i], two) {
        (_, "<>") => (Tok::Op("<>"), 2),
        (_, "!=") => (Tok::Op("!="), 2),
        (_, "<=") => (Tok::Op("<="), 2),
        (_, ">=") => (Tok::Op(">="), 2),
        (_, "||") => return Err(format!("'||' is not part of the dialect (position {})", i + 1)),
        (b'=', _) => (Tok::Op("="), 1),
        (b'<', _) => (Tok::Op("<"), 1),
        (b'>', _) => (Tok::Op(">"), 1),
        (b'+', _) => (Tok::Op("+"), 1),
        (b'-', _) => (Tok::Op("-"), 1),
        (b'*', _) => (Tok::Op("*"), 1),
        (b'/', _) => (Tok::Op("/"), 1),
        (b'%', _) => (Tok::Op("%"), 1),
        (b'(', _) => (Tok::LParen, 1),
        (b')', _) => (Tok::RParen, 1),
        (b',', _) => (Tok::Comma, 1),
        (b'"', _) => return Err(format!("quoted identifiers are not part of the dialect (position {})", i + 1)),
        _ => {
            let ch = text[i..].chars().next().unwrap_or('?');
            return Err(format!("unexpected character '{ch}' at position {}", i + 1));
        }
    })
}

// ---------------------------------------------------------------- parsing

#[derive(Clone, Debug, PartialEq)]
enum Ast {
    Column(String),
    Number(String),
    Str(String),
    Bool(bool),
    Binary(Box<Ast>, &'static str, Box<Ast>),
    Not(Box<Ast>),
    In { expr: Box<Ast>, list: Vec<Ast>, negated: bool },
    Between { expr: Box<Ast>, low: Box<Ast>, high: Box<Ast>, negated: bool },
    Like { expr: Box<Ast>, pattern: Box<Ast>, negated: bool },
    IsNull { expr: Box<Ast>, negated: bool },
}

/// policy.md "Fields": a predicate has at most 1,000 terms (column names
/// and literals) and 64 levels of nesting. A chain of ANDs (or of ORs) is
/// one level; each parenthesis, NOT, comparison and arithmetic operator
/// is one more. Limits keep every later recursion (type checks, the
/// engine's planner) far from the stack's end.
const MAX_TERMS: usize = 1000;
const MAX_DEPTH: usize = 64;
/// Generous for 1,000 terms.
const MAX_TEXT_BYTES: usize = 64 * 1024;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Open parentheses and NOTs around the token being parsed.
    depth: usize,
}

impl Ast {
    /// The nesting depth, a chain of one AND or OR operator counting once.
    fn depth(&self, parent: Option<&'static str>) -> usize {
        match self {
            Ast::Column(_) | Ast::Number(_) | Ast::Str(_) | Ast::Bool(_) => 1,
            Ast::Binary(l, op, r) if (*op == "AND" || *op == "OR") && parent == Some(*op) => {
                l.depth(parent).max(r.depth(parent))
            }
            Ast::Binary(l, op, r) => 1 + l.depth(Some(op)).max(r.depth(Some(op))),
            Ast::Not(e) => 1 + e.depth(None),
            Ast::In { expr, list, .. } => {
                1 + list.iter().map(|a| a.depth(None)).max().unwrap_or(0).max(expr.depth(None))
            }
            Ast::Between { expr, low, high, .. } => 1 + expr.depth(None).max(low.depth(None)).max(high.depth(None)),
            Ast::Like { expr, pattern, .. } => 1 + expr.depth(None).max(pattern.depth(None)),
            Ast::IsNull { expr, .. } => 1 + expr.depth(None),
        }
    }
}

/// Joins operands with one AND or OR as a balanced tree (both are
/// associative in SQL's three-valued logic), so that a long chain is not a
/// deep one for the type checks and the engine.
fn balanced(mut items: Vec<Ast>, op: &'static str) -> Ast {
    while items.len() > 1 {
        let mut next = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            match it.next() {
                Some(b) => next.push(Ast::Binary(Box::new(a), op, Box::new(b))),
                None => next.push(a),
            }
        }
        items = next;
    }
    items.pop().expect("at least one operand")
}

const COMPARISONS: [&str; 7] = ["=", "<>", "!=", "<", "<=", ">", ">="];

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_kind(&self) -> Option<&Tok> {
        self.peek().map(|t| &t.kind)
    }

    fn next(&mut self) -> Option<&Token> {
        let t = self.tokens.get(self.at);
        self.at += 1;
        t
    }

    fn eat(&mut self, kind: &Tok) -> bool {
        if self.peek_kind() == Some(kind) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        match self.peek() {
            Some(t) => format!("expected {wanted} at position {}, found {}", t.pos + 1, t.kind),
            None => format!("expected {wanted}, found the end of the expression"),
        }
    }

    fn or(&mut self) -> Result<Ast, String> {
        let mut items = vec![self.and()?];
        while self.eat(&Tok::Kw(Kw::Or)) {
            items.push(self.and()?);
        }
        Ok(balanced(items, "OR"))
    }

    fn and(&mut self) -> Result<Ast, String> {
        let mut items = vec![self.not()?];
        while self.eat(&Tok::Kw(Kw::And)) {
            items.push(self.not()?);
        }
        Ok(balanced(items, "AND"))
    }

    /// Enters one more level of parentheses or NOT; refused past the limit
    /// before any further recursion.
    fn deeper(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("the predicate is nested more than {MAX_DEPTH} levels deep"));
        }
        Ok(())
    }

    fn not(&mut self) -> Result<Ast, String> {
        if self.eat(&Tok::Kw(Kw::Not)) {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Ast::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Ast, String> {
        let left = self.additive()?;
        let result = match self.peek_kind().cloned() {
            Some(Tok::Op(op)) if COMPARISONS.contains(&op) => {
                self.at += 1;
                Ast::Binary(Box::new(left), op, Box::new(self.additive()?))
            }
            Some(Tok::Kw(Kw::Is)) => {
                self.at += 1;
                let negated = self.eat(&Tok::Kw(Kw::Not));
                if !self.eat(&Tok::Kw(Kw::Null)) {
                    return Err(self.unexpected("NULL after IS"));
                }
                Ast::IsNull { expr: Box::new(left), negated }
            }
            Some(Tok::Kw(Kw::Not)) => {
                self.at += 1;
                self.suffix(left, true)?
            }
            Some(Tok::Kw(Kw::In | Kw::Between | Kw::Like)) => self.suffix(left, false)?,
            _ => return Ok(left),
        };
        if let Some(t) = self.peek() {
            let chains = matches!(&t.kind, Tok::Op(op) if COMPARISONS.contains(op))
                || matches!(t.kind, Tok::Kw(Kw::Is | Kw::In | Kw::Between | Kw::Like))
                || (t.kind == Tok::Kw(Kw::Not)
                    && matches!(
                        self.tokens.get(self.at + 1).map(|t| &t.kind),
                        Some(Tok::Kw(Kw::In | Kw::Between | Kw::Like))
                    ));
            if chains {
                return Err(format!("comparisons do not chain (position {}); use AND or parentheses", t.pos + 1));
            }
        }
        Ok(result)
    }

    /// `IN (...)`, `BETWEEN a AND b` or `LIKE p` after an operand.
    fn suffix(&mut self, left: Ast, negated: bool) -> Result<Ast, String> {
        let expr = Box::new(left);
        match self.next().map(|t| t.kind.clone()) {
            Some(Tok::Kw(Kw::In)) => {
                if !self.eat(&Tok::LParen) {
                    return Err(self.unexpected("'(' after IN"));
                }
                let mut list = vec![self.additive()?];
                while self.eat(&Tok::Comma) {
                    list.push(self.additive()?);
                }
                if !self.eat(&Tok::RParen) {
                    return Err(self.unexpected("',' or ')' in the IN list"));
                }
                Ok(Ast::In { expr, list, negated })
            }
            Some(Tok::Kw(Kw::Between)) => {
                let low = Box::new(self.additive()?);
                if !self.eat(&Tok::Kw(Kw::And)) {
                    return Err(self.unexpected("AND in BETWEEN"));
                }
                let high = Box::new(self.additive()?);
                Ok(Ast::Between { expr, low, high, negated })
            }
            Some(Tok::Kw(Kw::Like)) => Ok(Ast::Like { expr, pattern: Box::new(self.additive()?), negated }),
            _ => {
                self.at -= 1;
                Err(self.unexpected("IN, BETWEEN or LIKE after NOT"))
            }
        }
    }

    fn additive(&mut self) -> Result<Ast, String> {
        let mut left = self.multiplicative()?;
        while let Some(Tok::Op(op @ ("+" | "-"))) = self.peek_kind().cloned() {
            self.at += 1;
            left = Ast::Binary(Box::new(left), op, Box::new(self.multiplicative()?));
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<Ast, String> {
        let mut left = self.unary()?;
        while let Some(Tok::Op(op @ ("*" | "/" | "%"))) = self.peek_kind().cloned() {
            self.at += 1;
            left = Ast::Binary(Box::new(left), op, Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Ast, String> {
        if self.peek_kind() == Some(&Tok::Op("-")) {
            self.at += 1;
            return match self.next().map(|t| t.kind.clone()) {
                Some(Tok::Number(n)) => Ok(Ast::Number(format!("-{n}"))),
                _ => {
                    self.at -= 1;
                    Err(self.unexpected("a number after unary minus (it applies to number literals only)"))
                }
            };
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, String> {
        let Some(token) = self.next() else {
            return Err("unexpected end of the expression".to_string());
        };
        let pos = token.pos;
        match token.kind.clone() {
            Tok::Number(n) => Ok(Ast::Number(n)),
            Tok::Str(s) => Ok(Ast::Str(s)),
            Tok::Kw(Kw::True) => Ok(Ast::Bool(true)),
            Tok::Kw(Kw::False) => Ok(Ast::Bool(false)),
            Tok::Kw(Kw::Null) => Err(format!("NULL is allowed only in IS [NOT] NULL (position {})", pos + 1)),
            Tok::Ident(name) => {
                if self.peek_kind() == Some(&Tok::LParen) {
                    return Err(format!("function calls are not part of the dialect ({name} at position {})", pos + 1));
                }
                Ok(Ast::Column(name))
            }
            Tok::LParen => {
                self.deeper()?;
                let inner = self.or()?;
                if !self.eat(&Tok::RParen) {
                    return Err(self.unexpected("')'"));
                }
                self.depth -= 1;
                Ok(inner)
            }
            other => Err(format!("unexpected {other} at position {}", pos + 1)),
        }
    }
}

// ---------------------------------------------------------------- types

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Bool,
    Str,
    Date,
    /// Exact decimal arithmetic (money columns and number literals).
    Decimal,
    Float,
}

impl Ty {
    fn numeric(self) -> bool {
        matches!(self, Ty::Decimal | Ty::Float)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Bool => "boolean",
            Ty::Str => "a string",
            Ty::Date => "a date",
            Ty::Decimal => "a decimal number",
            Ty::Float => "a float64 number",
        })
    }
}

/// A type-checked node, ready to become a DataFusion expression.
#[derive(Clone, Debug, PartialEq)]
struct Typed {
    ty: Ty,
    node: Node,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Column(String),
    Literal(ScalarValue),
    /// A float64 view of a decimal operand.
    ToFloat(Box<Typed>),
    Binary(Box<Typed>, Operator, Box<Typed>),
    /// `/` or `%`: NULL when the right side is zero.
    DivMod(Box<Typed>, Operator, Box<Typed>),
    Not(Box<Typed>),
    In {
        expr: Box<Typed>,
        list: Vec<Typed>,
        negated: bool,
    },
    Like {
        expr: Box<Typed>,
        pattern: Box<Typed>,
        negated: bool,
    },
    IsNull {
        expr: Box<Typed>,
        negated: bool,
    },
}

fn check(ast: &Ast, contract: &Contract) -> Result<Typed, String> {
    Ok(match ast {
        Ast::Column(name) => {
            let c = contract.column(name).ok_or_else(|| {
                let names: Vec<&str> = contract.columns.iter().map(|c| c.name.as_str()).collect();
                format!("column {name} does not exist in {} (columns: {})", contract.dataset, names.join(", "))
            })?;
            let ty = match c.ty {
                ColumnType::Utf8 => Ty::Str,
                ColumnType::Date => Ty::Date,
                ColumnType::Decimal18_2 => Ty::Decimal,
                ColumnType::Float64 => Ty::Float,
                ColumnType::Boolean => Ty::Bool,
            };
            Typed { ty, node: Node::Column(name.clone()) }
        }
        Ast::Number(n) => Typed { ty: Ty::Decimal, node: Node::Literal(decimal_literal(n)?) },
        Ast::Str(s) => Typed { ty: Ty::Str, node: Node::Literal(ScalarValue::Utf8(Some(s.clone()))) },
        Ast::Bool(b) => Typed { ty: Ty::Bool, node: Node::Literal(ScalarValue::Boolean(Some(*b))) },
        Ast::Not(inner) => {
            let t = check(inner, contract)?;
            if t.ty != Ty::Bool {
                return Err(format!("NOT needs a boolean operand, found {}", t.ty));
            }
            Typed { ty: Ty::Bool, node: Node::Not(Box::new(t)) }
        }
        Ast::Binary(l, op, r) => {
            let (l, r) = (check(l, contract)?, check(r, contract)?);
            match *op {
                "AND" | "OR" => {
                    for side in [&l, &r] {
                        if side.ty != Ty::Bool {
                            return Err(format!("{op} needs boolean operands, found {}", side.ty));
                        }
                    }
                    let o = if *op == "AND" { Operator::And } else { Operator::Or };
                    Typed { ty: Ty::Bool, node: Node::Binary(Box::new(l), o, Box::new(r)) }
                }
                "+" | "-" | "*" | "%" | "/" => arithmetic(l, op, r)?,
                _ => comparison(l, op, r)?,
            }
        }
        Ast::In { expr, list, negated } => {
            let e = check(expr, contract)?;
            let mut items = Vec::with_capacity(list.len());
            for item in list {
                let (_, item) = comparable(e.clone(), check(item, contract)?, "IN")?;
                items.push(item);
            }
            let float = e.ty == Ty::Float || items.iter().any(|i| i.ty == Ty::Float);
            let e = if float { to_float(e) } else { e };
            let items = if float { items.into_iter().map(to_float).collect() } else { items };
            Typed { ty: Ty::Bool, node: Node::In { expr: Box::new(e), list: items, negated: *negated } }
        }
        Ast::Between { expr, low, high, negated } => {
            // x BETWEEN a AND b means x >= a AND x <= b.
            let ge = comparison(check(expr, contract)?, ">=", check(low, contract)?)?;
            let le = comparison(check(expr, contract)?, "<=", check(high, contract)?)?;
            let both = Typed { ty: Ty::Bool, node: Node::Binary(Box::new(ge), Operator::And, Box::new(le)) };
            if *negated {
                Typed { ty: Ty::Bool, node: Node::Not(Box::new(both)) }
            } else {
                both
            }
        }
        Ast::Like { expr, pattern, negated } => {
            let (e, p) = (check(expr, contract)?, check(pattern, contract)?);
            for side in [&e, &p] {
                if side.ty != Ty::Str {
                    return Err(format!("LIKE needs string operands, found {}", side.ty));
                }
            }
            Typed { ty: Ty::Bool, node: Node::Like { expr: Box::new(e), pattern: Box::new(p), negated: *negated } }
        }
        Ast::IsNull { expr, negated } => {
            Typed { ty: Ty::Bool, node: Node::IsNull { expr: Box::new(check(expr, contract)?), negated: *negated } }
        }
    })
}

fn to_float(t: Typed) -> Typed {
    match t.ty {
        Ty::Float => t,
        _ => Typed { ty: Ty::Float, node: Node::ToFloat(Box::new(t)) },
    }
}

fn arithmetic(l: Typed, op: &str, r: Typed) -> Result<Typed, String> {
    for side in [&l, &r] {
        if !side.ty.numeric() {
            return Err(format!("'{op}' needs numbers, found {}", side.ty));
        }
    }
    let operator = match op {
        "+" => Operator::Plus,
        "-" => Operator::Minus,
        "*" => Operator::Multiply,
        "%" => Operator::Modulo,
        _ => Operator::Divide,
    };
    if op == "/" {
        // `/` converts both sides to float64.
        return Ok(Typed { ty: Ty::Float, node: Node::DivMod(Box::new(to_float(l)), operator, Box::new(to_float(r))) });
    }
    let float = l.ty == Ty::Float || r.ty == Ty::Float;
    let (l, r, ty) = if float { (to_float(l), to_float(r), Ty::Float) } else { (l, r, Ty::Decimal) };
    let node = if op == "%" {
        Node::DivMod(Box::new(l), operator, Box::new(r))
    } else {
        Node::Binary(Box::new(l), operator, Box::new(r))
    };
    Ok(Typed { ty, node })
}

/// Makes two operands comparable: same type, a string literal read as a
/// date beside a date, a decimal beside a float read as float64.
fn comparable(l: Typed, r: Typed, what: &str) -> Result<(Typed, Typed), String> {
    match (l.ty, r.ty) {
        (a, b) if a == b => Ok((l, r)),
        (Ty::Date, Ty::Str) => Ok((l, date_literal(r)?)),
        (Ty::Str, Ty::Date) => Ok((date_literal(l)?, r)),
        (a, b) if a.numeric() && b.numeric() => Ok((to_float(l), to_float(r))),
        (a, b) => Err(format!("cannot compare {a} with {b} in {what}")),
    }
}

fn date_literal(t: Typed) -> Result<Typed, String> {
    match &t.node {
        Node::Literal(ScalarValue::Utf8(Some(s))) => match parse_date(s) {
            Some(d) => Ok(Typed { ty: Ty::Date, node: Node::Literal(ScalarValue::Date32(Some(date_to_days(d)))) }),
            None => Err(format!("'{s}' is not a valid date YYYY-MM-DD")),
        },
        _ => Err("a date can be compared only with a date column or a date literal 'YYYY-MM-DD'".to_string()),
    }
}

fn comparison(l: Typed, op: &str, r: Typed) -> Result<Typed, String> {
    let (l, r) = comparable(l, r, &format!("'{op}'"))?;
    let operator = match op {
        "=" => Operator::Eq,
        "<>" | "!=" => Operator::NotEq,
        "<" => Operator::Lt,
        "<=" => Operator::LtEq,
        ">" => Operator::Gt,
        _ => Operator::GtEq,
    };
    Ok(Typed { ty: Ty::Bool, node: Node::Binary(Box::new(l), operator, Box::new(r)) })
}

/// An exact decimal literal: `12`, `-12.50`, `1e3`, `1.5e-2`.
fn decimal_literal(text: &str) -> Result<ScalarValue, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| format!("malformed number {text}"))?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int_part}{frac_part}");
    let mut scale = frac_part.len() as i32 - exponent;
    if scale < 0 {
        digits.extend(std::iter::repeat_n('0', (-scale) as usize));
        scale = 0;
    }
    let trimmed = digits.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let precision = digits.len().max(scale as usize + 1).max(1);
    if precision > 38 || scale > 38 {
        return Err(format!("number {text} has more than 38 digits"));
    }
    let mut value: i128 = digits.parse().map_err(|_| format!("malformed number {text}"))?;
    if negative {
        value = -value;
    }
    Ok(ScalarValue::Decimal128(Some(value), precision as u8, scale as i8))
}

impl Typed {
    fn columns(&self, out: &mut BTreeSet<String>) {
        match &self.node {
            Node::Column(c) => {
                out.insert(c.clone());
            }
            Node::Literal(_) => {}
            Node::ToFloat(e) | Node::Not(e) | Node::IsNull { expr: e, .. } => e.columns(out),
            Node::Binary(l, _, r) | Node::DivMod(l, _, r) | Node::Like { expr: l, pattern: r, .. } => {
                l.columns(out);
                r.columns(out);
            }
            Node::In { expr, list, .. } => {
                expr.columns(out);
                list.iter().for_each(|i| i.columns(out));
            }
        }
    }

    fn to_expr(&self) -> Expr {
        match &self.node {
            Node::Column(c) => Expr::Column(Column::new_unqualified(c)),
            Node::Literal(v) => lit(v.clone()),
            Node::ToFloat(e) => cast(e.to_expr(), DataType::Float64),
            Node::Binary(l, op, r) => binary_expr(l.to_expr(), *op, r.to_expr()),
            Node::DivMod(l, op, r) => {
                // Division or remainder by zero gives NULL.
                let zero = match r.ty {
                    Ty::Float => lit(0.0f64),
                    _ => lit(ScalarValue::Decimal128(Some(0), 1, 0)),
                };
                let rhs = datafusion::functions::expr_fn::nullif(r.to_expr(), zero);
                binary_expr(l.to_expr(), *op, rhs)
            }
            Node::Not(e) => Expr::Not(Box::new(e.to_expr())),
            Node::In { expr, list, negated } => Expr::InList(InList::new(
                Box::new(expr.to_expr()),
                list.iter().map(|i| i.to_expr()).collect(),
                *negated,
            )),
            Node::Like { expr, pattern, negated } => {
                // The dialect has no escape character; the engine treats a
                // backslash as one, so backslashes are doubled.
                let pattern = match &pattern.node {
                    Node::Literal(ScalarValue::Utf8(Some(p))) => lit(p.replace('\\', "\\\\")),
                    _ => datafusion::functions::expr_fn::replace(pattern.to_expr(), lit("\\"), lit("\\\\")),
                };
                Expr::Like(Like::new(*negated, Box::new(expr.to_expr()), Box::new(pattern), None, false))
            }
            Node::IsNull { expr, negated } => {
                if *negated {
                    Expr::IsNotNull(Box::new(expr.to_expr()))
                } else {
                    Expr::IsNull(Box::new(expr.to_expr()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
