/** Opening the hot table a read-only command looks at, with the pool it runs on. */
import { openHotTable } from "../inspect.ts"
import { type HotTable, openDatabase, type Sql } from "../pg/hot.ts"
import type { ReadSettings } from "./read-settings.ts"

/** A hot table of a dataset and its pool; `close()` ends the pool. */
export interface InspectedHot {
  readonly sql: Sql
  readonly table: HotTable
  close(): Promise<void>
}

/** Opens `--source-table` (default `hot_{dataset}`) as compact would; BAD_INPUT when it is missing. */
export async function openInspectedHotTable(settings: ReadSettings, dataset: string): Promise<InspectedHot> {
  const sql = openDatabase(settings.databaseUrl)
  const close = () => sql.end({ timeout: 5 })
  try {
    const name = settings.sourceTable ?? `hot_${dataset}`
    const table = await openHotTable(sql, name, settings.blockColumn, settings.chainId, settings.chainColumn)
    return { sql, table, close }
  } catch (error) {
    await close()
    throw error
  }
}
