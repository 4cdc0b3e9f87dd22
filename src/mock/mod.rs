//! The built-in mock target (TEMPORARY STUB in main until the mock branch lands).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct MockConfig {
    #[arg(long, env = "MOCK_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: String,
}
pub struct MockServer;
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockStats;
impl MockServer {
    pub async fn start(_cfg: MockConfig) -> std::io::Result<MockServer> {
        todo!()
    }
    pub fn addr(&self) -> std::net::SocketAddr {
        todo!()
    }
    pub fn base_url(&self) -> String {
        todo!()
    }
    pub fn stats(&self) -> MockStats {
        todo!()
    }
    pub async fn shutdown(self) {}
}
