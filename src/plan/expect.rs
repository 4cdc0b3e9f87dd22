//! Event expectations: a small regular language over event types, compiled once to a DFA.
//!
//! Syntax: event names (`[A-Za-z0-9_:.-]+`) in sequence (whitespace), postfix `*` `+` `?`,
//! alternation `|` (lowest precedence) and grouping `( ... )`, e.g.
//! `agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed`.
//!
//! Design: the parser builds a Glushkov automaton as it goes (one NFA state per event name in the
//! source, no ε-moves), then subset construction turns it into a DFA stored as one flat
//! `states × alphabet` table of `u32` with a `DEAD` sentinel. The alphabet holds only the event
//! types the expression names, so the table is tiny and `step` on the hot path is two indexed
//! loads: no hashing, no allocation. There is no regex crate here because those match bytes or
//! chars, while our symbols are interned `EventId`s, and we need the automaton itself: what is
//! `expected` next, which events are terminal, and the diagnosis below.
//!
//! Diagnosis (error path only) explains a failed flow by the fewest edits, events inserted
//! (missing) or deleted (unexpected), that turn what arrived into a match. "The first event that
//! did not fit" blames the wrong event when one is merely missing: `S T X D` stops fitting at `D`,
//! yet the story is "tool_completed is missing", not "agent_completed was unexpected".

use std::collections::HashMap;

use super::{EventId, EventRef};

/// A compile error in an expression, at a byte offset into the source text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

/// A DFA state.
pub type State = u32;

/// The "no transition" entry of the table.
const DEAD: u32 = u32::MAX;
/// The "not in the alphabet" entry of the symbol lookup.
const NO_SYMBOL: u8 = u8::MAX;
/// Distinct event types one expression may name (symbol indexes must stay below `NO_SYMBOL`).
const MAX_SYMBOLS: usize = NO_SYMBOL as usize;
/// Subset construction can blow up; no sane expectation comes near this.
const MAX_STATES: usize = 4096;
/// Keeps the recursive-descent parser far from the stack limit.
const MAX_DEPTH: usize = 64;

/// Why a sequence of events does not match, by the first edit of a minimum-edit explanation
/// (`Expr::diagnose`); `metrics::errors` turns it into an error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnosis {
    /// `missing` should have come; `got` came instead (none: the stream ended).
    Missing {
        missing: EventId,
        got: Option<EventRef>,
    },
    /// `got` came where it cannot, after `after`.
    Unexpected {
        got: EventId,
        after: Option<EventId>,
    },
    /// The sequence matches (a failed flow cannot): only a deadline can explain it.
    Matched,
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    source: String,
    /// Distinct event types, in order of first appearance; a symbol is an index into this.
    alphabet: Vec<EventId>,
    /// `EventId` → symbol index, `NO_SYMBOL` when absent; sized to the largest id + 1.
    symbols: Vec<u8>,
    /// `table[state * alphabet.len() + symbol]`: next state or `DEAD`. State 0 is the start.
    table: Vec<u32>,
    accepting: Vec<bool>,
    /// Per state: some transition is not dead.
    live: Vec<bool>,
    /// Per symbol: some transition on it reaches an accepting state.
    terminal: Vec<bool>,
}

impl Expr {
    /// Parses and compiles `src`, calling `intern` once per event name occurrence.
    pub fn compile(src: &str, intern: &mut dyn FnMut(&str) -> EventId) -> Result<Expr, ExprError> {
        let mut parser = Parser {
            src,
            toks: lex(src)?,
            at: 0,
            intern,
            alphabet: Vec::new(),
            pos_symbol: vec![NO_SYMBOL],
            follow: vec![Vec::new()],
        };
        let root = parser.alt(Before::Input, 0)?;
        let end = parser.peek();
        if end.tok != Tok::End {
            return Err(err(end.start, "unmatched ')': no group is open here"));
        }
        // Position 0 is the start pseudo-position: it is followed by the expression's first
        // positions and is "last" exactly when the expression accepts the empty sequence.
        parser.follow[0] = root.first.clone();
        let mut is_last = vec![false; parser.pos_symbol.len()];
        is_last[0] = root.nullable;
        for &p in &root.last {
            is_last[p as usize] = true;
        }
        let Parser {
            alphabet,
            pos_symbol,
            follow,
            ..
        } = parser;
        let (table, accepting) = determinize(&alphabet, &pos_symbol, &follow, &is_last)?;

        let k = alphabet.len();
        let live = table
            .chunks(k.max(1))
            .map(|row| row.iter().any(|&t| t != DEAD))
            .collect();
        let terminal = (0..k)
            .map(|a| {
                table
                    .iter()
                    .skip(a)
                    .step_by(k)
                    .any(|&t| t != DEAD && accepting[t as usize])
            })
            .collect();
        let max_id = alphabet.iter().copied().max().map_or(0, usize::from);
        let mut symbols = vec![NO_SYMBOL; max_id + 1];
        for (i, &e) in alphabet.iter().enumerate() {
            symbols[e as usize] = i as u8;
        }
        Ok(Expr {
            source: src.to_owned(),
            alphabet,
            symbols,
            table,
            accepting,
            live,
            terminal,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Distinct event types named in the expression, in order of first appearance.
    pub fn alphabet(&self) -> &[EventId] {
        &self.alphabet
    }

    /// Index of `e` in `alphabet()`, if it is there.
    pub fn symbol(&self, e: EventId) -> Option<usize> {
        match self.symbols.get(e as usize) {
            Some(&s) if s != NO_SYMBOL => Some(s as usize),
            _ => None,
        }
    }

    /// Number of DFA states (the dead sentinel excluded).
    pub fn states(&self) -> usize {
        self.accepting.len()
    }

    pub fn start(&self) -> State {
        0
    }

    /// The state after `e`, or None when `e` is not acceptable in `s` (or not in the alphabet).
    pub fn step(&self, s: State, e: EventId) -> Option<State> {
        let a = self.symbol(e)?;
        self.next(s, a)
    }

    /// The events so far match the whole expression.
    pub fn is_accepting(&self, s: State) -> bool {
        self.accepting.get(s as usize).copied().unwrap_or(false)
    }

    /// Some further event could still be accepted.
    pub fn can_continue(&self, s: State) -> bool {
        self.live.get(s as usize).copied().unwrap_or(false)
    }

    /// `e` can be the last event of a match.
    pub fn is_terminal(&self, e: EventId) -> bool {
        self.symbol(e).is_some_and(|a| self.terminal[a])
    }

    /// Events acceptable next in `s`, in alphabet order.
    pub fn expected(&self, s: State) -> Vec<EventId> {
        (0..self.alphabet.len())
            .filter(|&a| self.next(s, a).is_some())
            .map(|a| self.alphabet[a])
            .collect()
    }

    /// `e` is in every match: no accepting state can be reached without it (so every passing
    /// flow receives it). False for an event not in the alphabet.
    pub fn required(&self, e: EventId) -> bool {
        let Some(skip) = self.symbol(e) else {
            return false;
        };
        let mut seen = vec![false; self.states()];
        let mut todo = vec![self.start()];
        while let Some(s) = todo.pop() {
            let Some(slot) = seen.get_mut(s as usize) else {
                continue;
            };
            if std::mem::replace(slot, true) {
                continue;
            }
            if self.is_accepting(s) {
                return false;
            }
            todo.extend(
                (0..self.alphabet.len())
                    .filter(|&a| a != skip)
                    .filter_map(|a| self.next(s, a)),
            );
        }
        true
    }

    /// Classifies a failed flow by the first edit of a minimum-edit explanation.
    ///
    /// `seq` holds the in-alphabet events that arrived. Searches (position in `seq`, state) with
    /// consuming `seq[i]` costing 0, inserting any event 1 (missing), skipping `seq[i]` 1
    /// (unexpected), until all of `seq` is consumed in an accepting state. Among cheapest
    /// explanations the one whose first edit comes latest wins, then an insertion over a
    /// deletion, then the insertion of the earliest event in alphabet order. An insertion at the
    /// very end reports `got: ended_by` (None: the stream ended). If `seq` already matches, which a
    /// failed flow cannot do, the answer is `TotalTimeout`.
    pub fn diagnose(&self, seq: &[EventId], ended_by: Option<EventRef>) -> Diagnosis {
        let n = self.states();
        let len = seq.len();
        // cost[i * n + q]: fewest edits to finish from state q with seq[i..] left.
        let mut cost = vec![INF; (len + 1) * n];
        for q in 0..n {
            cost[len * n + q] = if self.accepting[q] { 0 } else { INF };
        }
        self.close_insertions(&mut cost[len * n..]);
        for i in (0..len).rev() {
            let (head, tail) = cost.split_at_mut((i + 1) * n);
            let (cur, next) = (&mut head[i * n..], &tail[..n]);
            for (q, c) in cur.iter_mut().enumerate() {
                let take = self
                    .step(q as State, seq[i])
                    .map_or(INF, |t| next[t as usize]);
                *c = take.min(next[q].saturating_add(1)).min(INF);
            }
            self.close_insertions(cur);
        }

        // Consume for as long as consuming stays optimal: that puts the first edit latest.
        let (mut i, mut q) = (0, self.start());
        while i < len {
            match self.step(q, seq[i]) {
                Some(t) if cost[(i + 1) * n + t as usize] == cost[i * n + q as usize] => {
                    q = t;
                    i += 1;
                }
                _ => break,
            }
        }
        let c = cost[i * n + q as usize];
        if c == 0 {
            return Diagnosis::Matched;
        }
        for a in 0..self.alphabet.len() {
            if let Some(t) = self.next(q, a) {
                if cost[i * n + t as usize].saturating_add(1) == c {
                    let got = if i < len {
                        Some(EventRef::Known(seq[i]))
                    } else {
                        ended_by
                    };
                    return Diagnosis::Missing {
                        missing: self.alphabet[a],
                        got,
                    };
                }
            }
        }
        match seq.get(i) {
            Some(&got) => Diagnosis::Unexpected {
                got,
                after: i.checked_sub(1).map(|p| seq[p]),
            },
            None => Diagnosis::Matched,
        }
    }

    fn next(&self, s: State, a: usize) -> Option<State> {
        let k = self.alphabet.len();
        if s as usize >= self.states() || a >= k {
            return None;
        }
        let t = self.table[s as usize * k + a];
        (t != DEAD).then_some(t)
    }

    /// Relaxes insertion edges within one layer of the cost table until nothing improves.
    fn close_insertions(&self, layer: &mut [u32]) {
        let k = self.alphabet.len();
        let mut changed = true;
        while changed {
            changed = false;
            for q in (0..layer.len()).rev() {
                for &t in &self.table[q * k..(q + 1) * k] {
                    if t != DEAD && layer[t as usize].saturating_add(1) < layer[q] {
                        layer[q] = layer[t as usize] + 1;
                        changed = true;
                    }
                }
            }
        }
    }
}

/// "Unreachable" in the diagnosis cost table; headroom left so `+ 1` never wraps.
const INF: u32 = u32::MAX / 2;

fn err(offset: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        offset,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Name,
    Star,
    Plus,
    Question,
    Pipe,
    Open,
    Close,
    End,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-')
}

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let tok = match bytes[i] {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'*' => Tok::Star,
            b'+' => Tok::Plus,
            b'?' => Tok::Question,
            b'|' => Tok::Pipe,
            b'(' => Tok::Open,
            b')' => Tok::Close,
            b if is_name_byte(b) => {
                while i < bytes.len() && is_name_byte(bytes[i]) {
                    i += 1;
                }
                toks.push(Token {
                    tok: Tok::Name,
                    start,
                    end: i,
                });
                continue;
            }
            // Only ASCII was skipped so far, so `i` is on a char boundary.
            _ => {
                let c = src[i..].chars().next().unwrap_or('?');
                return Err(err(
                    i,
                    format!(
                        "unexpected character '{c}': event names use letters, digits, '_', ':', '.' and '-'"
                    ),
                ));
            }
        };
        i += 1;
        toks.push(Token { tok, start, end: i });
    }
    toks.push(Token {
        tok: Tok::End,
        start: src.len(),
        end: src.len(),
    });
    Ok(toks)
}

/// What came before a sequence, to explain an empty one.
#[derive(Clone, Copy)]
enum Before {
    Input,
    Group(usize),
    Pipe(usize),
}

/// A Glushkov fragment: can it match nothing, and its first and last positions.
struct Frag {
    nullable: bool,
    first: Vec<u32>,
    last: Vec<u32>,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
    intern: &'a mut dyn FnMut(&str) -> EventId,
    alphabet: Vec<EventId>,
    /// Symbol index of each position (an event name occurrence); position 0 is the start.
    pos_symbol: Vec<u8>,
    /// Positions that may follow each position.
    follow: Vec<Vec<u32>>,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        self.toks[self.at]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.at];
        if t.tok != Tok::End {
            self.at += 1;
        }
        t
    }

    fn column(&self, offset: usize) -> usize {
        self.src[..offset].chars().count() + 1
    }

    fn unclosed(&self, open: usize) -> ExprError {
        let col = self.column(open);
        err(
            self.src.len(),
            format!("expected ')' to close the group opened at column {col}"),
        )
    }

    fn alt(&mut self, before: Before, depth: usize) -> Result<Frag, ExprError> {
        let mut acc = self.seq(before, depth)?;
        while self.peek().tok == Tok::Pipe {
            let pipe = self.bump();
            let f = self.seq(Before::Pipe(pipe.start), depth)?;
            acc.nullable |= f.nullable;
            acc.first.extend(f.first);
            acc.last.extend(f.last);
        }
        Ok(acc)
    }

    fn seq(&mut self, before: Before, depth: usize) -> Result<Frag, ExprError> {
        let mut acc: Option<Frag> = None;
        while matches!(self.peek().tok, Tok::Name | Tok::Open) {
            let f = self.postfix(depth)?;
            acc = Some(match acc {
                None => f,
                Some(a) => self.cat(a, f),
            });
        }
        acc.ok_or_else(|| self.empty(before))
    }

    /// Explains why a sequence has no item.
    fn empty(&self, before: Before) -> ExprError {
        let t = self.peek();
        match (t.tok, before) {
            (Tok::Star | Tok::Plus | Tok::Question, _) => {
                let op = &self.src[t.start..t.end];
                err(
                    t.start,
                    format!("'{op}' must follow an event name or a group"),
                )
            }
            (Tok::Pipe, _) => err(t.start, "'|' needs an event name or a group before it"),
            (_, Before::Pipe(at)) => err(at, "'|' needs an event name or a group after it"),
            (Tok::Close, Before::Group(at)) => err(
                at,
                "empty group '()': put event names between the parentheses",
            ),
            (_, Before::Group(at)) => self.unclosed(at),
            (Tok::Close, Before::Input) => err(t.start, "unmatched ')': no group is open here"),
            _ => err(0, "empty expression"),
        }
    }

    fn postfix(&mut self, depth: usize) -> Result<Frag, ExprError> {
        let mut f = self.atom(depth)?;
        let mut prev: Option<Token> = None;
        while matches!(self.peek().tok, Tok::Star | Tok::Plus | Tok::Question) {
            let t = self.bump();
            if let Some(p) = prev {
                let (op, first) = (&self.src[t.start..t.end], &self.src[p.start..p.end]);
                return Err(err(
                    t.start,
                    format!("'{op}' cannot follow '{first}': use one of '*', '+', '?'"),
                ));
            }
            if t.tok != Tok::Question {
                for &p in &f.last {
                    self.follow[p as usize].extend_from_slice(&f.first);
                }
            }
            f.nullable |= t.tok != Tok::Plus;
            prev = Some(t);
        }
        Ok(f)
    }

    fn atom(&mut self, depth: usize) -> Result<Frag, ExprError> {
        let t = self.bump();
        match t.tok {
            Tok::Name => {
                let id = (self.intern)(&self.src[t.start..t.end]);
                let sym = match self.alphabet.iter().position(|&e| e == id) {
                    Some(s) => s,
                    None if self.alphabet.len() < MAX_SYMBOLS => {
                        self.alphabet.push(id);
                        self.alphabet.len() - 1
                    }
                    None => {
                        let msg = format!("too many distinct event types (at most {MAX_SYMBOLS})");
                        return Err(err(t.start, msg));
                    }
                };
                let p = self.pos_symbol.len() as u32;
                self.pos_symbol.push(sym as u8);
                self.follow.push(Vec::new());
                Ok(Frag {
                    nullable: false,
                    first: vec![p],
                    last: vec![p],
                })
            }
            Tok::Open if depth >= MAX_DEPTH => Err(err(
                t.start,
                format!("groups nested deeper than {MAX_DEPTH}"),
            )),
            Tok::Open => {
                let f = self.alt(Before::Group(t.start), depth + 1)?;
                match self.bump().tok {
                    Tok::Close => Ok(f),
                    _ => Err(self.unclosed(t.start)),
                }
            }
            _ => Err(err(t.start, "expected an event name or a group")),
        }
    }

    /// Concatenation: `a`'s last positions may be followed by `b`'s first.
    fn cat(&mut self, mut a: Frag, b: Frag) -> Frag {
        for &p in &a.last {
            self.follow[p as usize].extend_from_slice(&b.first);
        }
        let mut first = a.first;
        if a.nullable {
            first.extend_from_slice(&b.first);
        }
        let mut last = b.last;
        if b.nullable {
            last.append(&mut a.last);
        }
        Frag {
            nullable: a.nullable && b.nullable,
            first,
            last,
        }
    }
}

/// Subset construction over Glushkov positions; returns the flat table and accepting flags.
fn determinize(
    alphabet: &[EventId],
    pos_symbol: &[u8],
    follow: &[Vec<u32>],
    is_last: &[bool],
) -> Result<(Vec<u32>, Vec<bool>), ExprError> {
    let k = alphabet.len();
    let mut sets: Vec<Vec<u32>> = vec![vec![0]];
    let mut ids: HashMap<Vec<u32>, u32> = HashMap::from([(vec![0], 0)]);
    let mut table = Vec::new();
    let mut accepting = Vec::new();
    let mut s = 0;
    while s < sets.len() {
        accepting.push(sets[s].iter().any(|&p| is_last[p as usize]));
        let mut targets: Vec<Vec<u32>> = vec![Vec::new(); k];
        for &p in &sets[s] {
            for &q in &follow[p as usize] {
                targets[pos_symbol[q as usize] as usize].push(q);
            }
        }
        for mut target in targets {
            if target.is_empty() {
                table.push(DEAD);
                continue;
            }
            target.sort_unstable();
            target.dedup();
            let id = match ids.get(&target) {
                Some(&id) => id,
                None if sets.len() < MAX_STATES => {
                    let id = sets.len() as u32;
                    ids.insert(target.clone(), id);
                    sets.push(target);
                    id
                }
                None => {
                    let msg = format!("expression too complex (more than {MAX_STATES} states)");
                    return Err(err(0, msg));
                }
            };
            table.push(id);
        }
        s += 1;
    }
    Ok((table, accepting))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str =
        "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed";
    const OPTIONAL_TOOLS: &str =
        "agent_started agent_thinking+ (tool_executing tool_completed)? agent_completed";

    /// An expression plus the interner's table; a few unrelated names are interned first so
    /// `EventId`s do not coincide with symbol indexes.
    struct Fx {
        names: Vec<String>,
        expr: Expr,
    }

    impl Fx {
        fn new(src: &str) -> Fx {
            let mut names: Vec<String> = vec!["heartbeat".into(), "pong".into(), "error".into()];
            let expr = Expr::compile(src, &mut |n| intern(&mut names, n)).unwrap();
            Fx { names, expr }
        }

        fn id(&self, name: &str) -> EventId {
            let full = match name {
                "S" => "agent_started",
                "T" => "agent_thinking",
                "X" => "tool_executing",
                "C" => "tool_completed",
                "D" => "agent_completed",
                other => other,
            };
            self.names.iter().position(|n| n == full).unwrap() as EventId
        }

        fn seq(&self, s: &str) -> Vec<EventId> {
            s.split_whitespace().map(|n| self.id(n)).collect()
        }

        /// Steps through `s`; None as soon as an event is refused.
        fn run(&self, s: &str) -> Option<State> {
            self.seq(s)
                .iter()
                .try_fold(self.expr.start(), |st, &e| self.expr.step(st, e))
        }

        fn accepts(&self, s: &str) -> bool {
            self.run(s).is_some_and(|st| self.expr.is_accepting(st))
        }

        fn diagnose(&self, s: &str) -> Diagnosis {
            self.expr.diagnose(&self.seq(s), None)
        }

        fn missing(&self, missing: &str, got: Option<&str>) -> Diagnosis {
            let got = got.map(|g| EventRef::Known(self.id(g)));
            Diagnosis::Missing {
                missing: self.id(missing),
                got,
            }
        }

        fn unexpected(&self, got: &str, after: Option<&str>) -> Diagnosis {
            let got = self.id(got);
            Diagnosis::Unexpected {
                got,
                after: after.map(|a| self.id(a)),
            }
        }
    }

    fn intern(names: &mut Vec<String>, n: &str) -> EventId {
        match names.iter().position(|x| x == n) {
            Some(i) => i as EventId,
            None => {
                names.push(n.to_owned());
                (names.len() - 1) as EventId
            }
        }
    }

    fn compile_err(src: &str) -> (usize, String) {
        let mut names = Vec::new();
        let e = Expr::compile(src, &mut |n| intern(&mut names, n)).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn alphabet_in_first_appearance_order() {
        let fx = Fx::new("b a (c | a)* b");
        let want: Vec<EventId> = ["b", "a", "c"].iter().map(|n| fx.id(n)).collect();
        assert_eq!(fx.expr.alphabet(), &want[..]);
        assert_eq!(fx.expr.symbol(fx.id("a")), Some(1));
        assert_eq!(fx.expr.symbol(fx.id("heartbeat")), None);
        assert_eq!(fx.expr.symbol(EventId::MAX), None);
        assert_eq!(fx.expr.source(), "b a (c | a)* b");
    }

    #[test]
    fn golden_stream() {
        let fx = Fx::new(GOLDEN);
        let e = &fx.expr;
        for flow in [
            "S T T D",
            "S T X C D",
            "S T X C X C X C D",
            "S T T X C X C D",
        ] {
            let seq = fx.seq(flow);
            let mut st = e.start();
            for (i, &ev) in seq.iter().enumerate() {
                assert!(!e.is_accepting(st), "{flow}: accepting too early at {i}");
                st = e
                    .step(st, ev)
                    .unwrap_or_else(|| panic!("{flow}: refused at {i}"));
            }
            assert!(e.is_accepting(st), "{flow}");
            assert!(!e.can_continue(st), "{flow}");
        }
        assert!(!fx.accepts("S D"));
        assert_eq!(fx.run("S X"), None);
        assert_eq!(fx.run("S T heartbeat"), None);
        let after_s = fx.run("S").unwrap();
        assert_eq!(e.expected(after_s), fx.seq("T"));
        assert_eq!(e.expected(fx.run("S T").unwrap()), fx.seq("T X D"));
        assert_eq!(e.expected(fx.run("S T X").unwrap()), fx.seq("C"));
        assert!(e.is_terminal(fx.id("D")));
        assert!(!e.is_terminal(fx.id("S")));
        assert!(!e.is_terminal(fx.id("heartbeat")));
    }

    #[test]
    fn small_forms() {
        let fx = Fx::new("(a b)?");
        let s0 = fx.expr.start();
        assert!(fx.expr.is_accepting(s0) && fx.expr.can_continue(s0));
        assert!(!fx.accepts("a") && fx.accepts("a b") && fx.run("a b a").is_none());
        assert!(!fx.expr.can_continue(fx.run("a b").unwrap()));

        let fx = Fx::new("a*");
        assert!(fx.accepts("") && fx.accepts("a") && fx.accepts("a a a"));
        assert!(fx.expr.can_continue(fx.run("a a").unwrap()));

        let fx = Fx::new("a | b c");
        assert!(fx.accepts("a") && fx.accepts("b c"));
        assert!(!fx.accepts("b") && fx.run("a b").is_none() && fx.run("a c").is_none());
        assert!(fx.expr.is_terminal(fx.id("a")) && !fx.expr.is_terminal(fx.id("b")));

        let fx = Fx::new("a ((b | c) d)+ e?");
        assert!(fx.accepts("a b d") && fx.accepts("a b d c d") && fx.accepts("a c d e"));
        assert!(!fx.accepts("a") && !fx.accepts("a b") && fx.run("a b d e b").is_none());
        assert!(!fx.expr.can_continue(fx.run("a b d e").unwrap()));

        let fx = Fx::new("a+ b?");
        assert!(!fx.accepts("") && fx.accepts("a") && fx.accepts("a a b"));
        assert!(fx.run("a b a").is_none() && fx.run("b").is_none());
        assert_eq!(fx.expr.expected(fx.run("a").unwrap()), fx.seq("a b"));
    }

    #[test]
    fn dfa_stays_small() {
        assert_eq!(Fx::new(GOLDEN).expr.states(), 6);
        assert_eq!(Fx::new("(a | b)* c").expr.states(), 4);
    }

    #[test]
    fn diagnose_golden() {
        let fx = Fx::new(GOLDEN);
        assert_eq!(fx.diagnose("S T T X D"), fx.missing("C", Some("D")));
        assert_eq!(fx.diagnose("S T X C X D"), fx.missing("C", Some("D")));
        assert_eq!(fx.diagnose("T S T X C D"), fx.unexpected("T", None));
        assert_eq!(fx.diagnose("S T X C"), fx.missing("D", None));
        assert_eq!(fx.diagnose("S"), fx.missing("T", None));
        assert_eq!(fx.diagnose(""), fx.missing("S", None));
        assert_eq!(fx.diagnose("S D"), fx.missing("T", Some("D")));
        assert_eq!(fx.diagnose("S X C D"), fx.missing("T", Some("X")));
        assert_eq!(fx.diagnose("S T C D"), fx.missing("X", Some("C")));
        assert_eq!(fx.diagnose("S T D D"), fx.unexpected("D", Some("D")));
        assert_eq!(fx.diagnose("S T X X C D"), fx.missing("C", Some("X")));
        let opt = Fx::new(OPTIONAL_TOOLS);
        assert_eq!(opt.diagnose("S T T X D"), opt.missing("C", Some("D")));
        assert_eq!(
            opt.diagnose("S T X C X C D"),
            opt.unexpected("X", Some("C"))
        );
    }

    #[test]
    fn diagnose_tie_breaks() {
        // Skipping `a` at 0 or `b` at 1 both cost 1: the later first edit wins.
        let fx = Fx::new("(a | b) c");
        assert_eq!(fx.diagnose("a b c"), fx.unexpected("b", Some("a")));
        // Insert `b` before the second `a`, or drop it: insertion wins at equal place and cost.
        let fx = Fx::new("a b");
        assert_eq!(fx.diagnose("a a"), fx.missing("b", Some("a")));
        // Equal insertions: the earliest in alphabet order.
        let fx = Fx::new("a (b | c) d");
        assert_eq!(fx.diagnose("a d"), fx.missing("b", Some("d")));
    }

    #[test]
    fn diagnose_edges() {
        let fx = Fx::new(GOLDEN);
        // A match is not a failure: the defensive default.
        assert_eq!(fx.diagnose("S T D"), Diagnosis::Matched);
        // An out-of-alphabet event that stopped the flow is reported as what came instead.
        let stop = EventRef::Unknown(7);
        let got = fx.expr.diagnose(&fx.seq("S T X C"), Some(stop));
        assert_eq!(
            got,
            Diagnosis::Missing {
                missing: fx.id("D"),
                got: Some(stop)
            }
        );
        // Events outside the alphabet in `seq` can only be skipped.
        assert_eq!(
            fx.diagnose("S heartbeat T D"),
            fx.unexpected("heartbeat", Some("S"))
        );
        // Long streams are fine.
        let long = format!("S {} X D", "T ".repeat(5000));
        assert_eq!(fx.diagnose(&long), fx.missing("C", Some("D")));
    }

    #[test]
    fn compile_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty expression"),
            ("   ", 0, "empty expression"),
            (
                "a (b c",
                6,
                "expected ')' to close the group opened at column 3",
            ),
            (
                "a (b (c)",
                8,
                "expected ')' to close the group opened at column 3",
            ),
            ("(", 1, "expected ')' to close the group opened at column 1"),
            ("a b)", 3, "unmatched ')': no group is open here"),
            ("* a", 0, "'*' must follow an event name or a group"),
            ("a (+b)", 3, "'+' must follow an event name or a group"),
            ("a | ?", 4, "'?' must follow an event name or a group"),
            ("a |", 2, "'|' needs an event name or a group after it"),
            ("(a | ) b", 3, "'|' needs an event name or a group after it"),
            ("| a", 0, "'|' needs an event name or a group before it"),
            ("a || b", 3, "'|' needs an event name or a group before it"),
            ("a (|b)", 3, "'|' needs an event name or a group before it"),
            (
                "a ()",
                2,
                "empty group '()': put event names between the parentheses",
            ),
            ("a+*", 2, "'*' cannot follow '+': use one of '*', '+', '?'"),
            (
                "a $b",
                2,
                "unexpected character '$': event names use letters, digits, '_', ':', '.' and '-'",
            ),
            (
                "a é",
                2,
                "unexpected character 'é': event names use letters, digits, '_', ':', '.' and '-'",
            ),
        ];
        for &(src, offset, message) in cases {
            assert_eq!(compile_err(src), (offset, message.to_owned()), "{src:?}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(
            compile_err(&deep),
            (64, "groups nested deeper than 64".to_owned())
        );
    }

    #[test]
    fn names_allow_punctuation() {
        let fx = Fx::new("ns:ev.v1-x_2 other");
        assert!(fx.accepts("ns:ev.v1-x_2 other"));
    }

    #[test]
    fn required_events_are_those_in_every_match() {
        let golden = Fx::new(GOLDEN);
        let req = |fx: &Fx, n: &str| fx.expr.required(fx.id(n));
        assert!(req(&golden, "S") && req(&golden, "T") && req(&golden, "D"));
        assert!(!req(&golden, "X") && !req(&golden, "C"));
        let optional = Fx::new(OPTIONAL_TOOLS);
        assert!(!req(&optional, "X") && req(&optional, "D"));
        let handshake = Fx::new("(handshake_response handshake_complete)?");
        assert!(!req(&handshake, "handshake_response"));
        let either = Fx::new("(a | b) c");
        assert!(!req(&either, "a") && !req(&either, "b") && req(&either, "c"));
        assert!(
            !golden.expr.required(golden.id("heartbeat")),
            "not in the alphabet"
        );
    }
}
