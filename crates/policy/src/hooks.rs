//! The hooks SPEC defines, their parameters, and which of them a script has.

use crate::PolicyError;
use crate::outline::Outline;
use rhai::AST;

/// `route(req, ctx)`: required.
pub(crate) const ROUTE: Hook = Hook { name: "route", params: &["req", "ctx"] };
/// `on_error(req, attempt, err)`: optional.
pub(crate) const ON_ERROR: Hook = Hook { name: "on_error", params: &["req", "attempt", "err"] };
/// `accept(req, resp)`: optional.
pub(crate) const ACCEPT: Hook = Hook { name: "accept", params: &["req", "resp"] };
/// `settings()`: optional.
pub(crate) const SETTINGS: Hook = Hook { name: "settings", params: &[] };

/// A hook's name and parameters.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hook {
    /// Its name.
    pub(crate) name: &'static str,
    /// Its parameters' names, as SPEC writes them.
    pub(crate) params: &'static [&'static str],
}

impl Hook {
    /// `route(req, ctx)`.
    pub(crate) fn signature(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }
}

/// The hooks a script defines, each with the position of its `fn`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hooks {
    /// `route`.
    pub(crate) route: (u32, u32),
    /// `on_error`, if defined.
    pub(crate) on_error: Option<(u32, u32)>,
    /// `accept`, if defined.
    pub(crate) accept: Option<(u32, u32)>,
    /// `settings`, if defined.
    pub(crate) settings: Option<(u32, u32)>,
}

impl Hooks {
    /// Finds the hooks in `ast`: a hook defined only with the wrong number of
    /// parameters is an error (it would never be called), so is a missing `route`.
    pub(crate) fn find(ast: &AST, outline: &Outline, file: &str) -> Result<Hooks, PolicyError> {
        let find = |hook: Hook| -> Result<Option<(u32, u32)>, PolicyError> {
            let arities: Vec<usize> =
                ast.iter_functions().filter(|f| f.name == hook.name).map(|f| f.params.len()).collect();
            if arities.contains(&hook.params.len()) {
                return Ok(Some(outline.position(hook.name, hook.params.len())));
            }
            match arities.iter().min() {
                Some(&found) => {
                    let (line, col) = outline.position(hook.name, found);
                    Err(PolicyError::HookArity {
                        file: file.to_string(),
                        line,
                        col,
                        hook: hook.name,
                        expected: hook.params,
                        found,
                    })
                }
                None => Ok(None),
            }
        };
        let route = find(ROUTE)?.ok_or_else(|| PolicyError::MissingRoute { file: file.to_string() })?;
        Ok(Hooks { route, on_error: find(ON_ERROR)?, accept: find(ACCEPT)?, settings: find(SETTINGS)? })
    }

    /// Signatures of the hooks present, in SPEC order.
    pub(crate) fn signatures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.settings.is_some() {
            out.push(SETTINGS.signature());
        }
        out.push(ROUTE.signature());
        if self.on_error.is_some() {
            out.push(ON_ERROR.signature());
        }
        if self.accept.is_some() {
            out.push(ACCEPT.signature());
        }
        out
    }
}
