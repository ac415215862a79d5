import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ChatFrame {
  kind: ChatFrame.Kind
  id: Uint8Array<ArrayBuffer>
  sequence: bigint
  sentAt: bigint
  text: string
}

export namespace ChatFrame {
  export enum Kind {
    MESSAGE = 'MESSAGE',
    ACK = 'ACK'
  }

  enum __KindValues {
    MESSAGE = 0,
    ACK = 1
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<ChatFrame>

  export const codec = (): Codec<ChatFrame> => {
    if (_codec == null) {
      _codec = message<ChatFrame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          ChatFrame.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(24)
          w.uint64(obj.sequence)
        }

        if ((obj.sentAt != null && obj.sentAt !== 0n)) {
          w.uint32(32)
          w.uint64(obj.sentAt)
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(42)
          w.string(obj.text)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.MESSAGE,
          id: uint8ArrayAlloc(0),
          sequence: 0n,
          sentAt: 0n,
          text: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = ChatFrame.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.sequence = reader.uint64()
              break
            }
            case 4: {
              obj.sentAt = reader.uint64()
              break
            }
            case 5: {
              obj.text = reader.string()
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
                field: `${prefix}.kind`,
                value: ChatFrame.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sequence`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sentAt`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
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

  export interface ChatFrameKindFieldEvent {
    field: '$.kind'
    value: ChatFrame.Kind
  }

  export interface ChatFrameIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChatFrameSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  export interface ChatFrameSentAtFieldEvent {
    field: '$.sentAt'
    value: bigint
  }

  export interface ChatFrameTextFieldEvent {
    field: '$.text'
    value: string
  }

  export function encode (obj: Partial<ChatFrame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChatFrame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatFrame>): ChatFrame {
    return decodeMessage(buf, ChatFrame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChatFrame>): Generator<ChatFrameKindFieldEvent | ChatFrameIdFieldEvent | ChatFrameSequenceFieldEvent | ChatFrameSentAtFieldEvent | ChatFrameTextFieldEvent> {
    return streamMessage(buf, ChatFrame.codec(), opts)
  }
}
