//! Users and groups as compose writes them (`user: 1000:1000`, `user: postgres`,
//! `group_add: [audio, 2000]`): numeric ids, or names that only the image can resolve.

use super::value::ComposeText;

/// A user or group: an id, or a name the image's /etc/passwd or /etc/group resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Id(u32),
    Name(String),
}

impl ComposeText for Identity {
    const FROM_SCALAR: bool = true;
    const HINT: Option<&'static str> = Some("ids are 0 to 4294967295");
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.parse::<i64>() {
            Ok(id) => u32::try_from(id).map(Identity::Id).map_err(|_| format!("`{text}` is not a user or group id")),
            Err(_) => Ok(Identity::Name(text.to_string())),
        }
    }
}

/// `user: user[:group]`. An empty part (an unset `${PUID}`) means "not set", as in Docker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub user: Option<Identity>,
    pub group: Option<Identity>,
}

impl ComposeText for User {
    const FROM_SCALAR: bool = true;
    const HINT: Option<&'static str> = Identity::HINT;
    fn parse(text: &str) -> Result<Self, String> {
        let (user, group) = text.split_once(':').unwrap_or((text, ""));
        let part = |text: &str| -> Result<Option<Identity>, String> { if text.trim().is_empty() { Ok(None) } else { Identity::parse(text).map(Some) } };
        Ok(User { user: part(user)?, group: part(group)? })
    }
}

impl User {
    /// The parts that are names, as written (`postgres`, `postgres:staff`).
    pub fn names(&self) -> Vec<&str> {
        [&self.user, &self.group]
            .into_iter()
            .filter_map(|part| match part {
                Some(Identity::Name(name)) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Both ids, when neither part is a name.
    pub fn ids(&self) -> Option<(Option<u32>, Option<u32>)> {
        let id = |part: &Option<Identity>| match part {
            Some(Identity::Id(id)) => Some(Some(*id)),
            Some(Identity::Name(_)) => None,
            None => Some(None),
        };
        Some((id(&self.user)?, id(&self.group)?))
    }
}
