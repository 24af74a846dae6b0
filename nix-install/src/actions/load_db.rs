//! load-db: the tarball's own `nix-store --load-db` run inside, with the
//! saved `.reginfo` on its stdin.

use std::fs;
use std::path::PathBuf;

use super::{nix_store_path, saved_reginfo, Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::Changes;
use crate::tarball::reginfo_paths;
use crate::{Cx, Settings};

pub(super) struct LoadDb;

fn db_path(cx: &Cx) -> PathBuf {
    cx.root().join("nix/var/nix/db/db.sqlite")
}

impl Action for LoadDb {
    fn id(&self) -> ActionId {
        ActionId::LoadDb
    }

    fn describe(&self, _: &Settings) -> String {
        "load the store database with the tarball's nix-store --load-db, inside".into()
    }

    /// Every path of the reginfo is valid in the database.
    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let Ok(text) = fs::read_to_string(saved_reginfo(cx)) else {
            return Ok(false);
        };
        let db = db_path(cx);
        if !db.exists() {
            return Ok(false);
        }
        let e = |source| Error::Db {
            path: db.clone(),
            source,
        };
        // Read without writing anything next to the database.
        let conn = nixstore::store::db::open_read_only(&db).map_err(e)?;
        for p in reginfo_paths(&text) {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM ValidPaths WHERE path = ?1",
                    [&p],
                    |r| r.get(0),
                )
                .map_err(e)?;
            if n == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let nix = nix_store_path(cx)?;
        let reginfo_path = saved_reginfo(cx);
        let reginfo = fs::read(&reginfo_path).map_err(io_at(&reginfo_path))?;
        let db_dir = cx.root().join("nix/var/nix/db");
        if !db_dir.exists() {
            changes.created(cx, &db_dir)?;
        }
        cx.run(
            &[&format!("{nix}/bin/nix-store"), "--load-db"],
            Some(&reginfo),
        )?;
        Ok(())
    }
}
