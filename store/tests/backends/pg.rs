//! A throwaway PostgreSQL server for the test binary.
//!
//! `initdb` and `postgres` refuse to run as root, so as root they run as the
//! `postgres` user on a temp directory that user owns. The server listens on
//! 127.0.0.1 on a free port, with durability switched off (it is thrown
//! away). [`PgServer`]'s `Drop` stops it with `pg_ctl stop -m fast`; a
//! watchdog shell stops it too if the test process dies without unwinding
//! (SIGKILL, abort).

use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sqlx::Connection as _;

pub const INSTALL_HINT: &str = "install postgresql: apt-get install -y postgresql";

#[derive(Debug)]
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    watchdog: Option<Child>,
}

impl PgServer {
    /// Starts a fresh cluster, or says why not (never skips silently).
    pub fn start() -> Result<Self, String> {
        let bin = find_bin_dir().ok_or_else(|| {
            format!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in $PG_BIN, \
                 /usr/lib/postgresql/15/bin or PATH: {INSTALL_HINT}"
            )
        })?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("store-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create temp dir: {e}"))?;
        if as_postgres {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()))
            .map_err(|e| format!("{e} (does the `postgres` user exist? {INSTALL_HINT})"))?;
        }
        let port = free_port()?;
        let mut server = Self {
            dir,
            bin,
            as_postgres,
            port,
            watchdog: None,
        };
        let data = server.data_dir();
        run(server.pg_command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]))?;
        server.launch()?;
        Ok(server)
    }

    /// A streaming replica of `primary` (`pg_basebackup -R`): read-only,
    /// replaying the primary's WAL as it comes.
    pub fn replica_of(primary: &PgServer) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("store-pg-replica-")
            .tempdir()
            .map_err(|e| format!("cannot create temp dir: {e}"))?;
        if primary.as_postgres {
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()))?;
        }
        let mut server = Self {
            dir,
            bin: primary.bin.clone(),
            as_postgres: primary.as_postgres,
            port: free_port()?,
            watchdog: None,
        };
        let data = server.data_dir();
        run(server
            .pg_command("pg_basebackup")
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-X",
                "stream",
                "-R",
                "--no-sync",
                "--checkpoint=fast",
                "-D",
            ])
            .arg(&data))?;
        server.launch()?;
        Ok(server)
    }

    /// Starts the server on its data directory (again, after
    /// [`PgServer::stop`]).
    pub fn launch(&mut self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
             -c shared_buffers=256MB",
            self.port,
            self.dir.path().display()
        );
        let started = run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &options, "start"]));
        // From here on Drop stops the server, also when start half-failed.
        if self.watchdog.is_none() {
            self.watchdog = self.spawn_watchdog();
        }
        started.map_err(|e| format!("{e}\nserver log:\n{}", self.log()))
    }

    /// Stops the server (fast shutdown), keeping its data directory.
    pub fn stop(&self) -> Result<(), String> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "stop", "-m", "fast"]))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new empty database on this server; returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        let admin = self.url("postgres");
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("connect {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        conn.close().await.ok();
        self.url(name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    fn pg_command(&self, tool: &str) -> Command {
        let tool = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(tool);
            c
        } else {
            Command::new(tool)
        }
    }

    /// A shell that waits for this process to end and then stops the server
    /// and removes its directory. Normal runs stop the server in `Drop` and
    /// kill the watchdog; it matters only when `Drop` never runs.
    fn spawn_watchdog(&self) -> Option<Child> {
        let pg_ctl = self.bin.join("pg_ctl");
        let runuser = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let mut script = String::new();
        let _ = write!(
            script,
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {runuser}'{pg_ctl}' -D '{data}' stop -m immediate >/dev/null 2>&1; \
             rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            data = self.data_dir().display(),
            dir = self.dir.path().display(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data_dir();
        let running = data.join("postmaster.pid").exists();
        if let Err(e) = run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-w", "-t", "60", "stop", "-m", "fast"]))
        {
            if running {
                eprintln!("stopping the test PostgreSQL server failed: {e}");
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            // Our own child, by handle.
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |d: &Path| {
        d.join("initdb").is_file()
            && d.join("pg_ctl").is_file()
            && d.join("pg_basebackup").is_file()
    };
    if let Some(dir) = std::env::var_os("PG_BIN") {
        // An explicit choice is final: a wrong PG_BIN must fail, not fall back.
        let dir = PathBuf::from(dir);
        return has_tools(&dir).then_some(dir);
    }
    let debian = PathBuf::from("/usr/lib/postgresql/15/bin");
    if has_tools(&debian) {
        return Some(debian);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|d| has_tools(d))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}
