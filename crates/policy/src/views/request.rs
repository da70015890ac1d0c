//! `req`: the request being routed.

use rhai::{Dynamic, ImmutableString, Map};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use windtunnel_core::Request;

/// The request's tags.
#[derive(Clone, Debug, Default)]
pub(crate) enum Tags {
    /// None given.
    #[default]
    None,
    /// From a trace: values as JSON text, decoded when the script reads them.
    Json(BTreeMap<String, String>),
    /// From a policy test: already rhai values.
    Map(Map),
}

/// The data behind a `req` object.
#[derive(Debug)]
pub(crate) struct ReqData {
    /// The request without its tags and messages (which can be large and
    /// which no cost or fit computation reads).
    req: Request,
    tags: Tags,
    id: OnceCell<ImmutableString>,
    tenant: OnceCell<ImmutableString>,
    class: OnceCell<ImmutableString>,
}

/// `req`. Cloning (rhai clones method arguments) bumps a reference count.
#[derive(Clone, Debug)]
pub(crate) struct ReqView(Rc<ReqData>);

impl ReqView {
    /// A view of `req`: copies its scalar fields and shares its strings; the
    /// tags are copied only when the request has some.
    pub(crate) fn new(req: &Request) -> ReqView {
        let tags = match &req.tags {
            Some(t) => Tags::Json((**t).clone()),
            None => Tags::None,
        };
        let copy = Request {
            seq: req.seq,
            id: req.id.clone(),
            at_ms: req.at_ms,
            tenant: req.tenant.clone(),
            class: req.class.clone(),
            model: req.model.clone(),
            input_tokens: req.input_tokens,
            output_tokens: req.output_tokens,
            max_tokens: req.max_tokens,
            stream: req.stream,
            lang: req.lang.clone(),
            deadline_ms: req.deadline_ms,
            tags: None,
            prefix_hash: req.prefix_hash,
            hash_ids: None,
            prompt_hash: req.prompt_hash,
            messages: None,
        };
        ReqView::from_parts(copy, tags)
    }

    /// A view of an owned request (tests build these).
    pub(crate) fn from_parts(req: Request, tags: Tags) -> ReqView {
        ReqView(Rc::new(ReqData { req, tags, id: OnceCell::new(), tenant: OnceCell::new(), class: OnceCell::new() }))
    }

    /// The request, for cost and fit computations.
    pub(crate) fn request(&self) -> &Request {
        &self.0.req
    }

    /// `req.id`: the trace's id or the 1-based line number.
    pub(crate) fn id(&self) -> ImmutableString {
        self.0.id.get_or_init(|| self.0.req.id().to_string().into()).clone()
    }

    /// `req.tenant`.
    pub(crate) fn tenant(&self) -> ImmutableString {
        self.0.tenant.get_or_init(|| (*self.0.req.tenant).into()).clone()
    }

    /// `req.class`.
    pub(crate) fn class(&self) -> ImmutableString {
        self.0.class.get_or_init(|| (*self.0.req.class).into()).clone()
    }

    /// `req.model` or `()`.
    pub(crate) fn model(&self) -> Dynamic {
        self.0.req.model.as_deref().map_or(Dynamic::UNIT, |m| m.into())
    }

    /// `req.lang` or `()`.
    pub(crate) fn lang(&self) -> Dynamic {
        self.0.req.lang.as_deref().map_or(Dynamic::UNIT, |m| m.into())
    }

    /// `req.deadline_ms` or `()`.
    pub(crate) fn deadline_ms(&self) -> Dynamic {
        self.0.req.deadline_ms.map_or(Dynamic::UNIT, |d| Dynamic::from_int(super::int(d)))
    }

    /// `req.prompt_hash`: the prompt's identity as 16 hex digits, or `()`.
    pub(crate) fn prompt_hash(&self) -> Dynamic {
        self.0.req.prompt_hash.map_or(Dynamic::UNIT, |h| format!("{h:016x}").into())
    }

    /// `req.tags`: a map, or `()` without tags. Trace values are JSON text:
    /// a JSON string, number, bool, array or object becomes the rhai value;
    /// text that is not JSON stays a string.
    pub(crate) fn tags(&self) -> Dynamic {
        match &self.0.tags {
            Tags::None => Dynamic::UNIT,
            Tags::Map(m) => m.clone().into(),
            Tags::Json(t) => {
                let map: Map = t
                    .iter()
                    .map(|(k, v)| {
                        let value = serde_json::from_str::<serde_json::Value>(v)
                            .map_or_else(|_| Dynamic::from(v.clone()), json_to_dynamic);
                        (k.as_str().into(), value)
                    })
                    .collect();
                map.into()
            }
        }
    }
}

/// A JSON value as a rhai value (numbers that fit `i64` become integers).
fn json_to_dynamic(v: serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => b.into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.into(),
        Value::Array(a) => Dynamic::from_array(a.into_iter().map(json_to_dynamic).collect()),
        Value::Object(o) => Dynamic::from_map(o.into_iter().map(|(k, v)| (k.into(), json_to_dynamic(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_decode_json_values() {
        let mut req = Request::new(0, 0, 10, 10);
        let mut tags = BTreeMap::new();
        tags.insert("team".to_string(), "\"search\"".to_string());
        tags.insert("prio".to_string(), "3".to_string());
        tags.insert("raw".to_string(), "not json".to_string());
        req.tags = Some(Box::new(tags));
        let v = ReqView::new(&req);
        let m = v.tags().cast::<Map>();
        assert_eq!(m["team"].clone().into_string().unwrap(), "search");
        assert_eq!(m["prio"].as_int().unwrap(), 3);
        assert_eq!(m["raw"].clone().into_string().unwrap(), "not json");
        assert_eq!(v.id().as_str(), "1");
    }
}
