//! The `#[frys::main]` and `#[frys::test]` attribute macros.
//!
//! Both turn an `async fn` into a plain `fn` that builds a
//! [`frys::Runtime`](https://docs.rs/frys) and runs the function's body on it
//! with `block_on`. Use them through the `frys` facade crate
//! (`#[frys::main]`, `#[frys::test]`), never by depending on this crate
//! directly: the expansion refers to `::frys::Runtime` and `::frys::Cores`.
//!
//! # Options
//!
//! Both macros accept comma-separated options:
//!
//! | option | meaning | builder call |
//! | --- | --- | --- |
//! | `cores = N` | run `N` cores (executor threads), `N >= 1` | `.cores(::frys::Cores::Count(N))` |
//! | `stealing = true` / `false` | enable or disable work stealing between cores | `.stealing(b)` |
//!
//! Anything else (an unknown option, a non-`async` function, a function with
//! parameters or generics, a malformed option) is reported as a compile
//! error pointing at the offending tokens.
//!
//! # Examples
//!
//! ```ignore
//! #[frys::main(cores = 4, stealing = false)]
//! async fn main() -> std::io::Result<()> {
//!     serve().await
//! }
//!
//! #[frys::test]
//! async fn echo_round_trip() {
//!     assert_eq!(echo(b"hi").await, b"hi");
//! }
//! ```
//!
//! This crate uses only the compiler's `proc_macro` API (no `syn`/`quote`),
//! to keep the build of every crate using frys short.

extern crate proc_macro;

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Turns `async fn main()` into a `fn main()` that runs the body on a frys
/// runtime.
///
/// ```ignore
/// #[frys::main]
/// async fn main() -> R { body }
/// ```
///
/// expands to
///
/// ```ignore
/// fn main() -> R {
///     let __frys_rt = match ::frys::Runtime::builder().build() {
///         Ok(rt) => rt,
///         Err(e) => {
///             ::std::eprintln!("frys: cannot start the runtime: {e}");
///             ::std::process::exit(1)
///         }
///     };
///     __frys_rt.block_on(async move { body })
/// }
/// ```
///
/// Attributes, doc comments and visibility on the function are kept. The
/// return type is optional and may be anything `main` may return, such as
/// `Result<(), Box<dyn Error>>` (`?` works in the body).
///
/// # Options
///
/// - `cores = N`: run `N` cores (`N` an integer literal, at least 1); adds
///   `.cores(::frys::Cores::Count(N))` to the builder. By default the
///   runtime's own default is used.
/// - `stealing = true` or `stealing = false`: adds `.stealing(b)`.
///
/// # Errors
///
/// A compile error when the function is not `async`, takes parameters, is
/// generic, or when an option is unknown, repeated or malformed. If the
/// runtime cannot be built at run time, the program prints
/// `frys: cannot start the runtime: <error>` to stderr and exits with
/// status 1.
///
/// # Examples
///
/// ```ignore
/// use std::error::Error;
///
/// #[frys::main(cores = 2, stealing = true)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let port: u16 = std::env::var("PORT")?.parse()?;
///     run_server(port).await?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args, item)
}

/// Turns `async fn name()` into a `#[test] fn name()` that runs the body on a
/// frys runtime with one core.
///
/// ```ignore
/// #[frys::test]
/// async fn name() -> R { body }
/// ```
///
/// expands to
///
/// ```ignore
/// #[::core::prelude::v1::test]
/// fn name() -> R {
///     let __frys_rt = match ::frys::Runtime::builder()
///         .cores(::frys::Cores::Count(1))
///         .build()
///     {
///         Ok(rt) => rt,
///         Err(e) => panic!("frys: cannot start the runtime: {e}"),
///     };
///     __frys_rt.block_on(async move { body })
/// }
/// ```
///
/// Other attributes (`#[should_panic]`, `#[ignore]`, doc comments...) are
/// kept. Do not add `#[test]` yourself: the macro does, and a second one is
/// reported as an error.
///
/// # Options
///
/// The same as [`macro@main`]: `cores = N` (default 1 for tests, so that tests
/// stay cheap and deterministic) and `stealing = true|false`.
///
/// # Errors
///
/// A compile error for the same mistakes as [`macro@main`], and for a second
/// `#[test]` attribute. If the runtime cannot be built, the test panics with
/// `frys: cannot start the runtime: <error>`.
///
/// # Examples
///
/// ```ignore
/// #[frys::test]
/// async fn spawn_joins() {
///     let handle = frys::spawn(async { 1 + 1 });
///     assert_eq!(handle.await, 2);
/// }
///
/// #[frys::test(cores = 2, stealing = false)]
/// async fn two_cores() -> std::io::Result<()> {
///     frys::fs::read("Cargo.toml").await?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args, item)
}

/// Which macro is expanding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[frys::main]",
            Kind::Test => "#[frys::test]",
        }
    }
}

/// A compile error to report at `span`.
struct Error {
    span: Span,
    message: String,
}

impl Error {
    fn new(span: Span, message: impl Into<String>) -> Error {
        Error {
            span,
            message: message.into(),
        }
    }

    /// `compile_error!("message");` with every token spanned at `self.span`,
    /// so that the compiler underlines the offending tokens.
    fn to_compile_error(&self) -> TokenStream {
        let mut message = Literal::string(&self.message);
        message.set_span(self.span);
        let mut args = Group::new(Delimiter::Parenthesis, TokenTree::from(message).into());
        args.set_span(self.span);
        let mut bang = Punct::new('!', Spacing::Alone);
        bang.set_span(self.span);
        let mut semi = Punct::new(';', Spacing::Alone);
        semi.set_span(self.span);
        [
            TokenTree::Ident(Ident::new("compile_error", self.span)),
            TokenTree::Punct(bang),
            TokenTree::Group(args),
            TokenTree::Punct(semi),
        ]
        .into_iter()
        .collect()
    }
}

/// The options given in the attribute, as tokens ready for the output.
#[derive(Default)]
struct Options {
    /// The integer literal of `cores = N`, re-emitted unsuffixed with the
    /// user's span.
    cores: Option<Literal>,
    /// The `true`/`false` of `stealing = b`.
    stealing: Option<Ident>,
}

/// The parts of the annotated function that the expansion needs.
struct ItemFn {
    /// Outer attributes and doc comments (`#` and `[...]` tokens).
    attrs: Vec<TokenTree>,
    /// `pub`, `pub(crate)`, ... or nothing.
    vis: Vec<TokenTree>,
    /// The `fn` keyword.
    fn_token: Ident,
    /// The function's name.
    name: Ident,
    /// The `()` parameter list (empty), kept for its span.
    params: Group,
    /// Everything between the parameters and the body: `-> R`, a `where`
    /// clause, or nothing.
    sig_tail: Vec<TokenTree>,
    /// `R` of `-> R`, when there is a return type.
    ret: Option<Vec<TokenTree>>,
    /// The `{ ... }` body.
    body: Group,
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn = match parse_item(kind, item.clone()) {
        Ok(item_fn) => item_fn,
        Err(err) => {
            let mut out = err.to_compile_error();
            if kind == Kind::Main && is_async_main(&item) {
                // The user's `async fn main` would add rustc's "`main`
                // function is not allowed to be `async`", and no item at all
                // "`main` function not found": a stub keeps ours the only
                // error.
                out.extend(code("fn main() {}"));
            } else {
                // Keep the user's item (a plain `fn main`, a test helper...)
                // so that the only error is ours.
                out.extend(item);
            }
            return out;
        }
    };
    let mut errors = TokenStream::new();
    let options = match parse_options(kind, args) {
        Ok(options) => options,
        Err(err) => {
            // Still expand the function (without options), so the body is
            // type-checked and the only new error is about the attribute.
            errors = err.to_compile_error();
            Options::default()
        }
    };
    let mut out = errors;
    out.extend(generate(kind, &options, item_fn));
    out
}

/// Whether the top-level tokens of `item` read `async ... fn main`.
fn is_async_main(item: &TokenStream) -> bool {
    let tokens: Vec<TokenTree> = item.clone().into_iter().collect();
    tokens.windows(2).any(|w| {
        is_ident(w.first(), "fn")
            && is_ident(w.get(1), "main")
            && tokens.iter().any(|t| is_ident(Some(t), "async"))
    })
}

/// Looks through invisible groups (`$x` from a `macro_rules!` expansion).
fn unwrap_none_group(token: TokenTree) -> TokenTree {
    if let TokenTree::Group(group) = &token {
        if group.delimiter() == Delimiter::None {
            let mut inner = group.stream().into_iter();
            if let (Some(only), None) = (inner.next(), inner.next()) {
                return unwrap_none_group(only);
            }
        }
    }
    token
}

fn is_punct(token: Option<&TokenTree>, ch: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == ch)
}

fn is_ident(token: Option<&TokenTree>, name: &str) -> bool {
    matches!(token, Some(TokenTree::Ident(i)) if i.to_string() == name)
}

/// Parses `cores = 4, stealing = false`.
fn parse_options(kind: Kind, args: TokenStream) -> Result<Options, Error> {
    let attr = kind.attr();
    let mut options = Options::default();
    let mut tokens = args.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let key = match unwrap_none_group(token) {
            TokenTree::Ident(key) => key,
            other => {
                return Err(Error::new(
                    other.span(),
                    format!(
                        "expected an option such as `cores = 2` or `stealing = false` \
                         in {attr}, found `{other}`"
                    ),
                ))
            }
        };
        let name = key.to_string();
        if name != "cores" && name != "stealing" {
            return Err(Error::new(
                key.span(),
                format!(
                    "unknown option `{name}` in {attr}: \
                     the options are `cores = N` and `stealing = true|false`"
                ),
            ));
        }
        if (name == "cores" && options.cores.is_some())
            || (name == "stealing" && options.stealing.is_some())
        {
            return Err(Error::new(
                key.span(),
                format!("option `{name}` is given more than once"),
            ));
        }
        match tokens.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == '=' => {}
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected `=` after `{name}`, found `{other}`"),
                ))
            }
            None => {
                return Err(Error::new(
                    key.span(),
                    format!("expected `=` and a value after `{name}`"),
                ))
            }
        }
        let Some(value) = tokens.next().map(unwrap_none_group) else {
            return Err(Error::new(
                key.span(),
                format!("expected a value after `{name} =`"),
            ));
        };
        if name == "cores" {
            options.cores = Some(parse_cores(&value)?);
        } else {
            options.stealing = Some(parse_bool(&value)?);
        }
        match tokens.next() {
            None => {}
            Some(TokenTree::Punct(p)) if p.as_char() == ',' => {}
            Some(other) => {
                return Err(Error::new(
                    other.span(),
                    format!("expected `,` between options, found `{other}`"),
                ))
            }
        }
    }
    Ok(options)
}

/// Parses the value of `cores = N`: a positive integer literal, optionally
/// with `_` separators and a `usize` suffix.
fn parse_cores(value: &TokenTree) -> Result<Literal, Error> {
    let expected = |found: &dyn std::fmt::Display| {
        Error::new(
            value.span(),
            format!(
                "`cores` expects a positive integer literal such as `cores = 4`, found `{found}`"
            ),
        )
    };
    let TokenTree::Literal(lit) = value else {
        return Err(expected(value));
    };
    let text = lit.to_string();
    let digits: String = text
        .strip_suffix("usize")
        .unwrap_or(&text)
        .chars()
        .filter(|&c| c != '_')
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected(&text));
    }
    let n: usize = digits.parse().map_err(|_| {
        Error::new(
            value.span(),
            format!("`cores = {text}` is too large to be a number of cores"),
        )
    })?;
    if n == 0 {
        return Err(Error::new(
            value.span(),
            "`cores` must be at least 1: a runtime needs a core to run on",
        ));
    }
    let mut out = Literal::usize_unsuffixed(n);
    out.set_span(lit.span());
    Ok(out)
}

/// Parses the value of `stealing = b`.
fn parse_bool(value: &TokenTree) -> Result<Ident, Error> {
    match value {
        TokenTree::Ident(b) if b.to_string() == "true" || b.to_string() == "false" => Ok(b.clone()),
        other => Err(Error::new(
            other.span(),
            format!("`stealing` expects `true` or `false`, found `{other}`"),
        )),
    }
}

/// Whether the contents of an attribute's `[...]` are a bare path ending in
/// `test`: `test`, `core::prelude::v1::test`, `tokio::test`...
fn is_test_attr(group: &Group) -> bool {
    let tokens: Vec<TokenTree> = group.stream().into_iter().collect();
    is_ident(tokens.last(), "test")
        && tokens.iter().all(|t| match t {
            TokenTree::Ident(_) => true,
            TokenTree::Punct(p) => p.as_char() == ':',
            _ => false,
        })
}

/// Splits the annotated item into the parts the expansion needs, checking
/// that it is an `async fn` without parameters or generics.
fn parse_item(kind: Kind, item: TokenStream) -> Result<ItemFn, Error> {
    let attr = kind.attr();
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let mut i = 0;
    let not_a_fn =
        |span: Span| Error::new(span, format!("{attr} can only be used on an `async fn`"));

    // Outer attributes, including doc comments (`#[doc = "..."]`).
    let mut attrs = Vec::new();
    while is_punct(tokens.get(i), '#') {
        match tokens.get(i + 1) {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Bracket => {
                if kind == Kind::Test && is_test_attr(g) {
                    return Err(Error::new(
                        g.span(),
                        "a second test attribute is supplied: #[frys::test] already \
                         adds `#[test]`, remove this one",
                    ));
                }
                attrs.extend_from_slice(&tokens[i..i + 2]);
                i += 2;
            }
            _ => return Err(not_a_fn(tokens[i].span())),
        }
    }

    // Visibility: `pub` or `pub(...)`.
    let mut vis = Vec::new();
    if is_ident(tokens.get(i), "pub") {
        vis.push(tokens[i].clone());
        i += 1;
        if let Some(TokenTree::Group(g)) = tokens.get(i) {
            if g.delimiter() == Delimiter::Parenthesis {
                vis.push(tokens[i].clone());
                i += 1;
            }
        }
    }

    // Qualifiers up to `fn`: only `async` is accepted.
    let mut async_token = None;
    let fn_token = loop {
        match tokens.get(i) {
            Some(TokenTree::Ident(ident)) => {
                let word = ident.to_string();
                i += 1;
                match word.as_str() {
                    "fn" => break ident.clone(),
                    "async" if async_token.is_none() => async_token = Some(ident.clone()),
                    "const" | "unsafe" | "extern" => {
                        let article = if word == "const" { "a" } else { "an" };
                        return Err(Error::new(
                            ident.span(),
                            format!("{attr} cannot be used on {article} `{word} fn`"),
                        ));
                    }
                    _ => return Err(not_a_fn(ident.span())),
                }
            }
            Some(other) => return Err(not_a_fn(other.span())),
            None => return Err(not_a_fn(Span::call_site())),
        }
    };
    if async_token.is_none() {
        return Err(Error::new(
            fn_token.span(),
            format!("the `async` keyword is missing from the function declaration: {attr} expects an `async fn`"),
        ));
    }

    let name = match tokens.get(i) {
        Some(TokenTree::Ident(name)) => name.clone(),
        _ => return Err(not_a_fn(fn_token.span())),
    };
    i += 1;

    if is_punct(tokens.get(i), '<') {
        return Err(Error::new(
            tokens[i].span(),
            match kind {
                Kind::Main => "the `main` function cannot be generic",
                Kind::Test => "test functions cannot be generic",
            },
        ));
    }

    let params = match tokens.get(i) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => g.clone(),
        _ => return Err(not_a_fn(name.span())),
    };
    i += 1;
    if !params.stream().is_empty() {
        return Err(Error::new(
            params.span(),
            match kind {
                Kind::Main => "the `main` function cannot take parameters",
                Kind::Test => "test functions cannot take parameters",
            },
        ));
    }

    // The body is the last token; whatever is between is `-> R` / `where`.
    let body = match tokens.last() {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace && tokens.len() > i => {
            g.clone()
        }
        Some(last) => {
            return Err(Error::new(
                last.span(),
                format!("{attr} expects a function with a body"),
            ))
        }
        None => return Err(not_a_fn(name.span())),
    };
    let sig_tail = tokens[i..tokens.len() - 1].to_vec();

    let ret = if is_punct(sig_tail.first(), '-') && is_punct(sig_tail.get(1), '>') {
        let ty: Vec<TokenTree> = sig_tail[2..]
            .iter()
            .take_while(|t| !is_ident(Some(t), "where"))
            .cloned()
            .collect();
        if ty.is_empty() {
            return Err(Error::new(
                sig_tail[1].span(),
                "expected a return type after `->`",
            ));
        }
        Some(ty)
    } else {
        None
    };

    Ok(ItemFn {
        attrs,
        vis,
        fn_token,
        name,
        params,
        sig_tail,
        ret,
        body,
    })
}

/// Lexes a fixed piece of the expansion. The pieces are string constants of
/// this crate, so a failure is a bug here, not in the user's code.
fn code(src: &str) -> TokenStream {
    src.parse()
        .unwrap_or_else(|e| panic!("frys-macros: bad internal code {src:?}: {e:?}"))
}

fn group(delimiter: Delimiter, stream: TokenStream) -> TokenTree {
    TokenTree::Group(Group::new(delimiter, stream))
}

/// Builds the plain function around the body.
fn generate(kind: Kind, options: &Options, item: ItemFn) -> TokenStream {
    // `.cores(::frys::Cores::Count(N))`, with N spanned at the user's literal.
    let mut builder_calls = TokenStream::new();
    let cores = options.cores.clone().or_else(|| match kind {
        Kind::Main => None,
        Kind::Test => Some(Literal::usize_unsuffixed(1)),
    });
    if let Some(n) = cores {
        let mut count = code("::frys::Cores::Count");
        count.extend([group(Delimiter::Parenthesis, TokenTree::Literal(n).into())]);
        builder_calls.extend(code(".cores"));
        builder_calls.extend([group(Delimiter::Parenthesis, count)]);
    }
    if let Some(b) = &options.stealing {
        builder_calls.extend(code(".stealing"));
        builder_calls.extend([group(
            Delimiter::Parenthesis,
            TokenTree::Ident(b.clone()).into(),
        )]);
    }

    let on_error = match kind {
        Kind::Main => {
            "{ ::std::eprintln!(\"frys: cannot start the runtime: {e}\"); ::std::process::exit(1) }"
        }
        Kind::Test => "::std::panic!(\"frys: cannot start the runtime: {e}\")",
    };

    // `async move { body }`; with a return type, the body's value goes
    // through a typed `let` so that `?` in the body knows its error type.
    let future_body = match &item.ret {
        None => TokenTree::Group(item.body),
        Some(ty) => {
            let mut inner = code("let __frys_ret:");
            inner.extend(ty.iter().cloned());
            inner.extend(code("="));
            inner.extend([TokenTree::Group(item.body)]);
            // A body that never returns (a server's accept loop) makes the
            // `return` unreachable; that is the user's intent, not a bug.
            inner.extend(code("; #[allow(unreachable_code)] return __frys_ret;"));
            group(Delimiter::Brace, inner)
        }
    };
    let mut block_on_arg = code("async move");
    block_on_arg.extend([future_body]);

    let mut fn_body = code("let __frys_rt = match ::frys::Runtime::builder()");
    fn_body.extend(builder_calls);
    fn_body.extend(code(&format!(
        ".build() {{ \
            ::core::result::Result::Ok(rt) => rt, \
            ::core::result::Result::Err(e) => {on_error} \
        }};"
    )));
    fn_body.extend(code("__frys_rt.block_on"));
    fn_body.extend([group(Delimiter::Parenthesis, block_on_arg)]);

    let mut out = TokenStream::new();
    if kind == Kind::Test {
        out.extend(code("#[::core::prelude::v1::test]"));
    }
    out.extend(item.attrs);
    out.extend(item.vis);
    out.extend([
        TokenTree::Ident(item.fn_token),
        TokenTree::Ident(item.name),
        TokenTree::Group(item.params),
    ]);
    out.extend(item.sig_tail);
    out.extend([group(Delimiter::Brace, fn_body)]);
    out
}
