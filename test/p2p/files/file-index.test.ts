import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { FileIndex, safeFileName } from '../../../src/p2p/files/file-index.ts'
import { fileLinkFragment, parseFileLink } from '../../../src/p2p/files/blocks.ts'

describe('file index', () => {
  it('cleans file names offered for download', () => {
    expect(safeFileName('../../etc/passwd')).toBe('passwd')
    expect(safeFileName('C:\\Users\\me\\report.pdf')).toBe('report.pdf')
    expect(safeFileName('a\u0000b\u001fc\u007f.txt')).toBe('abc.txt')
    expect(safeFileName('   ')).toBe('file')
    expect(safeFileName('x'.repeat(1000))).toHaveLength(255)
  })

  it('skips damaged entries on load and keeps the good ones', async () => {
    const datastore = new MemoryDatastore()
    const good = { cid: 'bafkgood', name: 'a', size: 1, blocks: 1, origin: 'shared', complete: true, providing: true, addedAt: 1 }
    await datastore.put(new Key('/webkad/files/bafkgood'), new TextEncoder().encode(JSON.stringify(good)))
    await datastore.put(new Key('/webkad/files/bafkjunk'), new Uint8Array([0xff, 0xfe, 0x00]))
    await datastore.put(new Key('/webkad/files/bafkwrong'), new TextEncoder().encode(JSON.stringify({ cid: 'bafkwrong', size: 'big' })))
    const index = new FileIndex(datastore)
    await index.load()
    expect(index.files.getSnapshot()).toEqual([good])
  })

  it('a shared link round-trips its CID and name; a bare CID has no name', () => {
    const fragment = fileLinkFragment('bafkreiabc', 'my file & notes.txt')
    expect(parseFileLink(`http://127.0.0.1:5173/?k=4${fragment}`)).toEqual({ cid: 'bafkreiabc', name: 'my file & notes.txt' })
    expect(parseFileLink('  bafkreiabc ')).toEqual({ cid: 'bafkreiabc' })
  })
})
