//! The controller's config file (mounted from a ConfigMap): defaults and the admin's container templates.
//! OWNER: controller (pure parts) helper.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not implemented yet")]
    Todo,
}
