# map/: libgomap, static and shared.
MAP_SRCS := $(sort $(wildcard map/*.c))
MAP_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(MAP_SRCS))

ALL_TARGETS    += $(B)/libgomap.a $(B)/libgomap.so
TEST_LIBS_map  += $(B)/libgomap.a

$(B)/libgomap.a: $(MAP_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/libgomap.so: $(MAP_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libgomap.so -o $@ $^ $(LDFLAGS)
