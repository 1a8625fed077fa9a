//! A test plugin that records its passage: it appends `tag` to header `trail` (so the
//! header reads `a,b,c` after plugins tagged a, b, c), and optionally
//! - `drop.topic=T`: drops records of topic T;
//! - `split.topic=T`: emits records of topic T followed by a tombstone;
//! - `set.field=path`, `set.value=text`: sets a string field of the value.

use tidemark_sdk::{Config, Header, Outcome, Record, Transform, Value, export_transform};

/// The tagging transform.
pub struct Tagger {
    tag: String,
    drop_topic: Option<String>,
    split_topic: Option<String>,
    set: Option<(String, String)>,
}

impl Transform for Tagger {
    fn configure(config: Config) -> Result<Self, String> {
        let set = match (config.get("set.field"), config.get("set.value")) {
            (Some(f), Some(v)) => Some((f.to_owned(), v.to_owned())),
            (None, None) => None,
            _ => return Err("set.field and set.value go together".into()),
        };
        Ok(Tagger {
            tag: config.require("tag")?.to_owned(),
            drop_topic: config.get("drop.topic").map(str::to_owned),
            split_topic: config.get("split.topic").map(str::to_owned),
            set,
        })
    }

    fn apply(&mut self, record: &mut Record<'_>) -> Outcome {
        let topic = record.topic();
        if self.drop_topic.as_deref() == Some(topic.as_str()) {
            return Outcome::Drop;
        }
        let mut headers: Vec<Header> = record.headers();
        match headers.iter_mut().find(|h| h.key == "trail") {
            Some(h) => {
                let trail = h.value.take().unwrap_or_default();
                h.value = Some(format!("{trail},{}", self.tag));
            }
            None => headers.push(Header {
                key: "trail".into(),
                value: Some(self.tag.clone()),
            }),
        }
        record.set_headers(headers);
        if let Some((field, value)) = &self.set
            && let Err(e) = record.set_value_field(field, &Value::from(value.as_str()))
        {
            panic!("cannot set {field}: {e:?}");
        }
        if self.split_topic.as_deref() == Some(topic.as_str()) {
            return Outcome::keep_with_tombstone(record);
        }
        Outcome::Keep
    }
}

export_transform!(Tagger);
