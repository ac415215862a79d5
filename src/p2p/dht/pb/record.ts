import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SignedRecord {
  key: Uint8Array<ArrayBuffer>
  payload: Uint8Array<ArrayBuffer>
  payloadType: SignedRecord.PayloadType
  author: Uint8Array<ArrayBuffer>
  sequence: bigint
  createdAt: bigint
  signature: Uint8Array<ArrayBuffer>
  expiresAt: bigint
}

export namespace SignedRecord {
  export enum PayloadType {
    TEXT = 'TEXT',
    BYTES = 'BYTES'
  }

  enum __PayloadTypeValues {
    TEXT = 0,
    BYTES = 1
  }

  export namespace PayloadType {
    export const codec = (): Codec<PayloadType> => {
      return enumeration<PayloadType>(__PayloadTypeValues)
    }
  }

  let _codec: Codec<SignedRecord>

  export const codec = (): Codec<SignedRecord> => {
    if (_codec == null) {
      _codec = message<SignedRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.key)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.payload)
        }

        if (obj.payloadType != null && __PayloadTypeValues[obj.payloadType] !== 0) {
          w.uint32(24)
          SignedRecord.PayloadType.codec().encode(obj.payloadType, w)
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.author)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(40)
          w.uint64(obj.sequence)
        }

        if ((obj.createdAt != null && obj.createdAt !== 0n)) {
          w.uint32(48)
          w.uint64(obj.createdAt)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.signature)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0n)) {
          w.uint32(64)
          w.uint64(obj.expiresAt)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: uint8ArrayAlloc(0),
          payload: uint8ArrayAlloc(0),
          payloadType: PayloadType.TEXT,
          author: uint8ArrayAlloc(0),
          sequence: 0n,
          createdAt: 0n,
          signature: uint8ArrayAlloc(0),
          expiresAt: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.key = reader.bytes()
              break
            }
            case 2: {
              obj.payload = reader.bytes()
              break
            }
            case 3: {
              obj.payloadType = SignedRecord.PayloadType.codec().decode(reader)
              break
            }
            case 4: {
              obj.author = reader.bytes()
              break
            }
            case 5: {
              obj.sequence = reader.uint64()
              break
            }
            case 6: {
              obj.createdAt = reader.uint64()
              break
            }
            case 7: {
              obj.signature = reader.bytes()
              break
            }
            case 8: {
              obj.expiresAt = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.payloadType`,
                value: SignedRecord.PayloadType.codec().decode(reader)
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.sequence`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.createdAt`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedRecordKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordPayloadTypeFieldEvent {
    field: '$.payloadType'
    value: SignedRecord.PayloadType
  }

  export interface SignedRecordAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  export interface SignedRecordCreatedAtFieldEvent {
    field: '$.createdAt'
    value: bigint
  }

  export interface SignedRecordSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedRecordExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: bigint
  }

  export function encode (obj: Partial<SignedRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): SignedRecord {
    return decodeMessage(buf, SignedRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedRecord>): Generator<SignedRecordKeyFieldEvent | SignedRecordPayloadFieldEvent | SignedRecordPayloadTypeFieldEvent | SignedRecordAuthorFieldEvent | SignedRecordSequenceFieldEvent | SignedRecordCreatedAtFieldEvent | SignedRecordSignatureFieldEvent | SignedRecordExpiresAtFieldEvent> {
    return streamMessage(buf, SignedRecord.codec(), opts)
  }
}
